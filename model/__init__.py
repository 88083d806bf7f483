"""viscodex.model"""
