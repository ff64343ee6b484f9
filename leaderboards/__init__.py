"""Leaderboards: boards of scores, gamification on top of them, and the live sockets.

Sub-packages depend one way, lowest first: ``live`` (the protocol and the one way messages leave)
← ``boards`` (global, friends and weekly boards: Redis index and database) ← ``gamification``
(badges, perks, challenges, boards of honour) ← ``sockets`` (the live consumer and its feed).
"""
