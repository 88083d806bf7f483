"""viscodex.agent"""
