"""jumpup.models"""
