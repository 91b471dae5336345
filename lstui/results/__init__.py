"""HDF5 direction and surface files in the reference layout (REFERENCE.md, "Files")."""

from lstui.results.h5files import (
    SURFACE_KEYS,
    SurfaceFile,
    direction_cosine,
    read_direction_arrays,
    read_direction_attrs,
    read_directions,
    read_projection,
    read_surface,
    write_directions,
    write_projection,
    write_surface,
)

__all__ = [
    "SURFACE_KEYS",
    "SurfaceFile",
    "direction_cosine",
    "read_direction_arrays",
    "read_direction_attrs",
    "read_directions",
    "read_projection",
    "read_surface",
    "write_directions",
    "write_projection",
    "write_surface",
]
