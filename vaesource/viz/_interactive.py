"""Interactive 3-D views for the HTML report: one panel of a render as a
self-contained page (vtk.js, from ``trame-vtk``), rotatable and zoomable in
any browser, offline, with no server.

The scene is serialized with trame-vtk's own serializers (what
``Plotter.export_html`` does, without starting a trame server) and embedded
in trame-vtk's static viewer, which carries vtk.js inline (about 1 MB).
"""

from __future__ import annotations

import html
import io
import json
import zipfile

import numpy as np

# faces kept per mesh: fsaverage5 (20 480 faces per hemisphere) is halved,
# a FreeSurfer subject's cortex (~300 000) cut 30-fold; at this size the
# folding pattern of the shading still reads, and the page stays ~1.7 MB
MAX_FACES = 10_000

# vtk.js's default view angle (degrees), also written into the page
_VIEW_ANGLE = 30.0

MISSING = (
    "Interactive 3-D view not included: it needs the trame-vtk package "
    "(pip install trame-vtk)."
)


def _have_trame_vtk() -> bool:
    try:
        import trame_vtk.modules.vtk.serializers  # noqa: F401
        import trame_vtk.tools.vtksz2html  # noqa: F401
    except ImportError:
        return False
    return True


def _decimate(mesh, max_faces):
    """``mesh`` cut to about ``max_faces`` triangles, its point arrays (the
    curvature shading) taken from the nearest original vertex, normals
    recomputed."""
    from scipy.spatial import cKDTree

    small = mesh.triangulate().decimate(1.0 - max_faces / mesh.n_cells)
    _, nearest = cKDTree(mesh.points).query(small.points)
    small.clear_data()
    for name in mesh.point_data.keys():
        if name not in ("Normals", "vtkOriginalPointIds"):
            small.point_data[name] = mesh.point_data[name][nearest]
    small = small.compute_normals(cell_normals=False, split_vertices=False,
                                  auto_orient_normals=False)
    if mesh.active_scalars_name in small.point_data:
        small.set_active_scalars(mesh.active_scalars_name)
    return small


def _panel_scene(plotter, renderer_index, max_faces):
    """A one-renderer plotter holding the meshes of one panel of ``plotter``
    (decimated where large), with its camera; titles and colour bars stay
    behind (vtk.js would not draw VTK's text actors)."""
    import pyvista as pv

    from ._scene import _new_plotter

    source = plotter.renderers[renderer_index]
    width, height = source.GetSize()
    scene = _new_plotter((1, 1), (max(width, 320), max(height, 240)))
    for actor in source.actors.values():
        mesh = getattr(getattr(actor, "mapper", None), "dataset", None)
        if not isinstance(mesh, pv.PolyData) or not actor.GetVisibility():
            continue
        if mesh.n_cells > max_faces:
            mesh = _decimate(mesh, max_faces)
        mapper = pv.DataSetMapper(mesh)
        mapper.ShallowCopy(actor.mapper)  # colour map, range, direct RGB
        mapper.SetInputData(mesh)
        scene.add_actor(pv.Actor(mapper=mapper, prop=actor.prop.copy()),
                        reset_camera=False)
    _perspective_camera(scene, source.camera)
    return scene


def _perspective_camera(scene, camera):
    """Give ``scene`` a perspective camera looking as ``camera`` does, at the
    distance where the scene's meshes just fill the view.

    The static renders use a parallel projection fitted to the brain
    (``_scene._fit_camera``) with the camera placed just outside it. The
    page's serializer keeps only the camera's position, focal point and view
    up, so vtk.js drew that camera in perspective at 30 degrees: a brain
    of about a quarter of the view's height. Fitting at vtk.js's angle, and
    writing the angle into the page (``_serialize``), keeps the brain
    filling the view, rotatable in perspective.
    """
    from ._scene import _fit_camera

    meshes = [actor.mapper.dataset for actor in scene.renderer.actors.values()]
    if not any(mesh.n_points for mesh in meshes):  # nothing to fit
        scene.camera = camera.copy()
        return
    points = np.concatenate([np.asarray(mesh.points) for mesh in meshes if mesh.n_points])
    position, focal = np.asarray(camera.position), np.asarray(camera.focal_point)
    direction = (position - focal) / np.linalg.norm(position - focal)
    _fit_camera(scene.renderer, direction, camera.up, points)
    fitted = scene.camera
    focal = np.asarray(fitted.focal_point)
    depth = points @ direction
    half_depth = (depth.max() - depth.min()) / 2
    # the parallel view's half-height, seen at _VIEW_ANGLE from far enough
    # that the near half of the brain (larger in perspective) still fits
    distance = fitted.parallel_scale / np.tan(np.radians(_VIEW_ANGLE) / 2) + half_depth
    scene.renderer.disable_parallel_projection()
    fitted.view_angle = _VIEW_ANGLE
    fitted.position = tuple(focal + distance * direction)
    scene.renderer.reset_camera_clipping_range()


def _serialize(scene) -> bytes:
    """The scene in vtk.js's offline format: a zip holding ``index.json``."""
    from trame_vtk.modules.vtk.serializers import (
        SynchronizationContext,
        extract_array_hash,
        initialize_serializers,
        reference_id,
        serialize,
    )

    initialize_serializers()
    context = SynchronizationContext()
    context.set_ignore_last_dependencies(True)
    window = scene.render_window
    camera = scene.renderer.GetActiveCamera()
    state = serialize(None, window, reference_id(window), context, 1)
    # trame-vtk's camera serializer leaves out the view angle
    _camera_state(state, reference_id(camera))["properties"]["viewAngle"] = (
        camera.GetViewAngle())
    state["extra"] = {
        "vtkRefId": reference_id(window),
        "centerOfRotation": camera.GetFocalPoint(),
        "camera": reference_id(camera),
    }
    arrays = {
        entry["hash"]: dict(**entry, content=context.get_cached_data_array(
            entry["hash"], False))
        for entry in extract_array_hash(state)
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zfile:
        zfile.writestr("index.json", json.dumps({"hashes": arrays, "scene": state}))
    return buffer.getvalue()


def _camera_state(state, camera_id):
    """The serialized camera (``camera_id``) in the scene ``state``."""
    if state.get("id") == camera_id:
        return state
    for dependency in state.get("dependencies", []):
        found = _camera_state(dependency, camera_id)
        if found is not None:
            return found
    return None


def panel_html(plotter, renderer_index: int = 0, *, max_faces: int = MAX_FACES) -> str:
    """One panel of an off-screen render as a self-contained HTML page.

    Parameters
    ----------
    plotter : pyvista.Plotter
        A render of :func:`~vaesource.viz.plot_sources` or
        :func:`~vaesource.viz.plot_volume_sources` (not closed yet).
    renderer_index : int
        Which panel (``plotter.renderers[renderer_index]``).
    max_faces : int
        Meshes with more triangles are decimated to about this many.

    Returns
    -------
    page : str
        The HTML document (vtk.js and the scene inline: no network needed).
    """
    from trame_vtk.tools.vtksz2html import write_html

    if not np.isfinite(max_faces) or max_faces < 100:
        raise ValueError(
            f"The 'max_faces' parameter must be at least 100, got {max_faces!r}."
        )
    scene = _panel_scene(plotter, renderer_index, int(max_faces))
    try:
        scene.render()
        data = _serialize(scene)
    finally:
        scene.close()
    page = io.StringIO()
    write_html(data, page)
    return page.getvalue()


def iframe(page: str, height_px: int = 520) -> str:
    """``page`` inside an ``<iframe srcdoc>``, so that its scripts stay apart
    from the report's."""
    return (
        f'<iframe srcdoc="{html.escape(page, quote=True)}" '
        f'style="width: 100%; height: {int(height_px)}px; border: 1px solid #ddd;" '
        'title="interactive 3-D view"></iframe>'
        '<p class="small">Drag to rotate, scroll to zoom, shift-drag to pan.</p>'
    )
