"""Exquisite: grow a canvas outward, tile by tile, with an image model."""
