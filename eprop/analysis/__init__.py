"""eprop/analysis"""
