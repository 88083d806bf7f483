"""viscodex.training"""
