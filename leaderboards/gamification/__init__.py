"""Gamification on top of the boards: badges, perks, challenges between friends, boards of honour."""
