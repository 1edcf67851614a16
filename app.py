"""The hpn-tryon storefront: pick or upload a photo, pick garments, see yourself wearing them.

UI only: what the catalog holds, which settings are on offer, how stages and failures are
worded and which intermediates are shown all come from :mod:`tryon.storefront`; the try-on
itself is :class:`tryon.pipeline.TryOnPipeline`. Start it with ``tryon app`` (or
``make app``); the catalog folder comes from ``$TRYON_CATALOG`` (default: the bundled demo).

Uploads stay in memory: decoded by :func:`tryon.storefront.decode_photo` straight from the
uploaded bytes, never written to disk, one at a time with the try-ons (decoding a large photo
takes as much memory as a try-on).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from tryon import storefront
from tryon.imageio import load_image

GRID_COLUMNS = 4
FITTING_ROOM_SIZE = 5  # the latest try and four before it


@st.cache_resource(show_spinner="Loading the try-on models (once per server and setting)…")
def cached_pipeline(settings: storefront.PipelineSettings) -> storefront.SharedPipeline:
    """One pipeline per sidebar setting, shared by every session of this server process."""
    return storefront.load_pipeline(settings)


@st.cache_resource(show_spinner=False)
def cached_catalog(root: str) -> storefront.Catalog:
    return storefront.load_catalog(root)


@st.cache_data(show_spinner=False, max_entries=256)
def catalog_photo(path: str) -> np.ndarray:
    return load_image(path)


def grid(count: int) -> Iterator[DeltaGenerator]:
    """One column per item, ``GRID_COLUMNS`` to a row, rows created as they are reached."""
    for start in range(0, count, GRID_COLUMNS):
        yield from st.columns(GRID_COLUMNS)[: count - start]


def choose_settings() -> storefront.PipelineSettings:
    """The sidebar: view, backend, resolution and device."""
    with st.sidebar:
        st.header("Settings")
        backend = st.selectbox("Backend", storefront.available_backends(), key="backend")
        st.radio(
            "View",
            list(storefront.VIEW_LABELS),
            format_func=storefront.VIEW_LABELS.__getitem__,
            key="view",
            help="My photo: your own photo, dressed (only the garment changes). Catalog pose: "
            "you facing the camera on a studio backdrop. Paper: the paper's HPN route.",
        )
        resolution = st.selectbox(
            "Resolution (paper view)",
            storefront.RESOLUTIONS,
            index=storefront.RESOLUTIONS.index(storefront.DEFAULT_RESOLUTION),
            key="resolution",
            help="Side of the square frame the paper view's models work in.",
        )
        device = st.selectbox("Device", storefront.available_devices(), key="device")
        st.caption(f"Catalog: `{storefront.resolve_catalog_dir()}`")
    return storefront.PipelineSettings(
        backend=backend,
        device=device,
        resolution=resolution,
        models_dir=storefront.resolve_models_dir(),
    )


def use_photo(name: str, image: np.ndarray, keypoints: np.ndarray | None = None) -> None:
    """Make ``image`` the shopper's photo; earlier results belonged to another photo."""
    st.session_state.photo = (name, image, keypoints)
    st.session_state.photo_error = None
    st.session_state.try_on_error = None
    st.session_state.latest = None


def use_sample(person: storefront.CatalogItem) -> None:
    """A sample model's photo, with its shipped keypoints when it has them."""
    try:
        keypoints = person.keypoints()
    except Exception as error:  # every failure becomes a message; the page keeps working
        st.session_state.photo_error = storefront.describe_failure(error)
        return
    use_photo(person.path.name, catalog_photo(str(person.path)), keypoints)


def on_photo_input(key: str) -> None:
    """Decode a new upload or camera shot in memory; a bad file becomes a message."""
    uploaded = st.session_state.get(key)
    if uploaded is None:
        return
    try:  # one heavy job at a time in the server: this decode waits for running try-ons
        image = storefront.decode_photo(uploaded)
    except Exception as error:  # every failure becomes a message; the page keeps working
        st.session_state.photo_error = storefront.describe_failure(error)
        return
    use_photo(uploaded.name, image)


def photo_panel(catalog: storefront.Catalog) -> None:
    """Upload, camera, or a sample model; then the photo that will be dressed."""
    st.subheader("1. Your photo")
    st.file_uploader(
        "Upload a photo (JPG, PNG or WebP)",
        type=list(storefront.UPLOAD_TYPES),
        key="upload",
        on_change=on_photo_input,
        args=("upload",),
    )
    if st.toggle("Take a photo with my camera", key="use_camera"):
        st.camera_input("Camera", key="camera", on_change=on_photo_input, args=("camera",))
    if catalog.people:
        st.caption("…or start from a sample model:")
        for column, person in zip(grid(len(catalog.people)), catalog.people, strict=True):
            with column:
                st.image(catalog_photo(str(person.path)), caption=person.label, width="stretch")
                if st.button("Use", key=f"sample-{person.key}", width="stretch"):
                    use_sample(person)
    if st.session_state.photo_error:
        st.error(st.session_state.photo_error)


def garment_grid(catalog: storefront.Catalog) -> None:
    """The catalog as a grid; the selected garment's button is highlighted."""
    st.subheader("2. Pick a garment")
    for column, garment in zip(grid(len(catalog.garments)), catalog.garments, strict=True):
        with column:
            st.image(catalog_photo(str(garment.path)), width="stretch")
            selected = st.session_state.garment == garment.key
            label = f"✓ {garment.label}" if selected else garment.label
            kind = "primary" if selected else "secondary"
            if st.button(label, key=f"garment-{garment.key}", type=kind, width="stretch"):
                st.session_state.garment = garment.key
                st.rerun()


def run_try_on(settings: storefront.PipelineSettings, garment: storefront.CatalogItem) -> None:
    """Load (once) and run the pipeline, stage by stage in a status box; keep the result."""
    photo_name, photo, keypoints = st.session_state.photo
    with st.status("Trying on…", expanded=True) as status:

        def announce(stage: str) -> None:
            label = storefront.stage_label(stage)
            status.update(label=f"{label}…")
            status.write(label)

        try:
            pipeline = cached_pipeline(settings)
            result = pipeline(
                photo,
                catalog_photo(str(garment.path)),
                person_keypoints=keypoints,
                view=st.session_state.view,
                progress=announce,
            )
        except Exception as error:  # every failure becomes a message; the page keeps working
            status.update(label="Try-on failed", state="error", expanded=False)
            st.session_state.try_on_error = storefront.describe_failure(error)
            return
        status.update(
            label=f"Done in {storefront.timing_summary(result.timings)}",
            state="complete",
            expanded=False,
        )
    st.session_state.try_on_error = None
    st.session_state.latest = (photo_name, garment, result)
    st.session_state.fitting_room = [
        (garment.label, result.image),
        *st.session_state.fitting_room,
    ][:FITTING_ROOM_SIZE]


def result_panel() -> None:
    """The result next to the original, its download, intermediates and earlier tries."""
    photo_name, garment, result = st.session_state.latest
    for note in result.warnings:
        st.info(note)
    original, dressed = st.columns(2)
    original.image(st.session_state.photo[1], caption="Your photo", width="stretch")
    dressed.image(result.image, caption=f"Wearing: {garment.label}", width="stretch")
    dressed.download_button(
        "Download (PNG)",
        data=storefront.png_bytes(result.image),
        file_name=storefront.result_file_name(photo_name, garment),
        mime="image/png",
        key="download",
        on_click="ignore",
    )
    if st.toggle("Show intermediates", key="show_intermediates"):
        views = storefront.intermediate_views(result)
        for column, (caption, image) in zip(grid(len(views)), views, strict=True):
            column.image(image, caption=caption, width="stretch")
        st.caption(f"Timings: {storefront.timing_summary(result.timings)}")
        for note in result.notes:  # how it was made: for engineers, not shoppers
            st.caption(f"Note: {note}")


def fitting_room() -> None:
    """Thumbnails of this session's earlier tries, newest first."""
    earlier = st.session_state.fitting_room[1:]
    if not earlier:
        return
    st.subheader("Tried on before")
    for column, (label, image) in zip(grid(len(earlier)), earlier, strict=True):
        column.image(image, caption=label, width="stretch")


def main() -> None:
    st.set_page_config(page_title="hpn-tryon storefront", page_icon="👕", layout="wide")
    for key, default in (
        ("photo", None),
        ("photo_error", None),
        ("garment", None),
        ("latest", None),
        ("try_on_error", None),
        ("fitting_room", []),
    ):
        st.session_state.setdefault(key, default)

    st.title("Virtual fitting room")
    settings = choose_settings()
    try:
        catalog = cached_catalog(str(storefront.resolve_catalog_dir()))
    except Exception as error:  # a bad $TRYON_CATALOG: say so instead of a traceback
        st.error(f"The catalog cannot be shown: {error}")
        st.stop()

    left, right = st.columns([2, 3], gap="large")
    with left:
        photo_panel(catalog)
        if st.session_state.photo is not None:
            name, image, _ = st.session_state.photo
            st.image(image, caption=f"Dressing: {name}", width=200)
    with right:
        garment_grid(catalog)

    st.subheader("3. Try it on")
    garment = catalog.garment(st.session_state.garment) if st.session_state.garment else None
    missing = storefront.missing_choices(st.session_state.photo is not None, garment is not None)
    if missing:
        st.caption(missing)
    if st.button("Try on", key="try_on", type="primary", disabled=bool(missing)):
        run_try_on(settings, garment)
    if st.session_state.try_on_error:
        st.error(st.session_state.try_on_error)
    if st.session_state.latest is not None:
        result_panel()
    fitting_room()


main()
