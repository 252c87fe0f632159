"""jumpup.features"""
