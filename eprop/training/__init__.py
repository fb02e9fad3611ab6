"""eprop/training"""
