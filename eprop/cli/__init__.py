"""eprop/cli"""
