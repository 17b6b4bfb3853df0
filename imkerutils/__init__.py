"""imkerutils: out-of-core, tile-native images and the Exquisite growth engine."""

__version__ = "0.1.0"
