"""The yearly progress review (성과평가) of selected firms: pure rules on tables."""
