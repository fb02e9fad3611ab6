"""eprop/config"""
