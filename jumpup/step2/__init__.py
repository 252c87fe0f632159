"""STEP 2 (심층토론 평가) and the final selection: pure rules on tables."""
