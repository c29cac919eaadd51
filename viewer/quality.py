"""Quality presets: from flat-shaded drafts to PBR under a procedural sky with SSAO.

=============  ================  =======  ==============  ====  =============  ============  =======
preset         materials         smooth   shadows         SSAO  anti-aliasing  tone mapping  ripples
=============  ================  =======  ==============  ====  =============  ============  =======
``draft``      unlit, light      no       no              no    none           no            no
               baked in
``high``       PBR               yes      baked           no    FXAA           ACES          no
``cinematic``  PBR               yes      baked, soft     yes   SSAA (5x)      ACES          yes
=============  ================  =======  ==============  ====  =============  ============  =======

PBR materials are lit by a sun (a directional light) and by image-based light
from an environment that is computed here, not downloaded: a sky that fades
from a hazy horizon to a blue zenith, a sun disc, and a dim ground. The sun's
shadows are traced over the heightfield (:func:`twin.viewer.geometry.sun_shadow`)
and baked into the colours of ground and water, which is exact for a
heightfield, costs nothing per frame and needs no shadow-map pass. The draft
draws every k-th grid point (at most ``max_points``) without lighting, the
sun baked into the colours: the cheapest to draw, for the live view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["QUALITIES", "Quality", "apply_quality", "direction", "sky_image"]

SKY_TOP, SKY_HORIZON = "#5b8cc8", "#dde7ef"
"""Background gradient (hex): zenith and horizon."""


@dataclass(frozen=True)
class Quality:
    """How a picture is rendered.

    Attributes:
        name: the preset's name.
        pbr: physically based materials with image-based lighting from the procedural sky.
        lit: lights shade the surfaces while rendering; if not, the sun's light is
            baked into the colours once (the cheapest to draw).
        smooth: smooth normals on ground and water (else flat facets).
        shadows: the sun's shadows baked into ground and water colours.
        shadow_softness: height [m] over which a shadow's edge fades (penumbra).
        ssao: screen-space ambient occlusion.
        anti_aliasing: ``none``, ``fxaa`` or ``ssaa``.
        tone_mapping: ACES filmic tone mapping of the lit image.
        ripples: small moving waves in the water's normals (glints).
        max_points: most grid points ground and water are drawn with (a coarser
            grid, every k-th point, beyond), or None for all.
        multi_samples: MSAA samples of the render window (0: none).
        sun_azimuth: compass bearing the sun shines from [deg]; sun_elevation: above the horizon [deg].
    """

    name: str
    pbr: bool
    lit: bool
    smooth: bool
    shadows: bool
    shadow_softness: float
    ssao: bool
    anti_aliasing: str
    tone_mapping: bool
    ripples: bool
    max_points: int | None = None
    multi_samples: int = 0
    sun_azimuth: float = 345.0
    sun_elevation: float = 32.0


QUALITIES: dict[str, Quality] = {
    "draft": Quality("draft", pbr=False, lit=False, smooth=False, shadows=False, shadow_softness=0.0, ssao=False,
                     anti_aliasing="none", tone_mapping=False, ripples=False, max_points=25_000),
    "high": Quality("high", pbr=True, lit=True, smooth=True, shadows=True, shadow_softness=0.4, ssao=False,
                    anti_aliasing="fxaa", tone_mapping=True, ripples=False),
    "cinematic": Quality("cinematic", pbr=True, lit=True, smooth=True, shadows=True, shadow_softness=0.8, ssao=True,
                         anti_aliasing="ssaa", tone_mapping=True, ripples=True),
}
"""The presets by name."""


def sky_image(height: int = 128, *, sun_azimuth: float = 345.0, sun_elevation: float = 32.0) -> np.ndarray:
    """A procedural sky as an equirectangular HDR image, float32 (height, 2 height, 3), linear RGB.

    Rows run from the nadir (row 0) to the zenith; columns from azimuth 0 (north)
    clockwise. Above the horizon the sky fades from a bright haze to blue, with a
    glow and a disc (radiance ~40) around the sun; below it a dim warm ground.
    """
    width = 2 * height
    elevation = np.radians(np.linspace(-90.0, 90.0, height))[:, None]
    azimuth = np.radians(np.linspace(0.0, 360.0, width, endpoint=False))[None, :]
    d = np.stack(np.broadcast_arrays(np.sin(azimuth) * np.cos(elevation), np.cos(azimuth) * np.cos(elevation),
                                     np.sin(elevation) + 0 * azimuth), axis=-1)
    sun = direction(sun_azimuth, sun_elevation)
    cos_sun = np.clip(d @ sun, -1.0, 1.0)
    up = np.clip(d[..., 2], 0.0, 1.0)[..., None]
    horizon, zenith = np.array([0.85, 0.9, 0.95]), np.array([0.18, 0.36, 0.75])
    sky = horizon + (zenith - horizon) * up ** 0.45
    sky = sky + np.array([1.0, 0.9, 0.7])[None, None, :] * (0.6 * np.exp((cos_sun[..., None] - 1.0) * 12.0))
    sky = sky + 40.0 * (cos_sun > math.cos(math.radians(1.5)))[..., None] * np.array([1.0, 0.95, 0.85])
    ground = np.array([0.22, 0.2, 0.17]) * (0.6 + 0.4 * (1 + d[..., 2:3]))
    image = np.where(d[..., 2:3] >= 0, sky, ground)
    return image.astype(np.float32)


def direction(azimuth: float, elevation: float) -> np.ndarray:
    """Unit vector (east, north, up) towards compass bearing ``azimuth``, ``elevation`` above the horizon [deg]."""
    az, el = math.radians(azimuth), math.radians(elevation)
    return np.array([math.sin(az) * math.cos(el), math.cos(az) * math.cos(el), math.sin(el)])


def apply_quality(plotter, quality: Quality, *, scene_size: float) -> list:
    """Set ``plotter``'s background, lights, environment and render passes for ``quality``.

    ``scene_size`` [display units] scales the SSAO radius. Returns the render
    passes made, to be released (``ReleaseGraphicsResources``) before the window closes.
    """
    import pyvista as pv

    plotter.set_background(SKY_HORIZON, top=SKY_TOP)
    plotter.remove_all_lights()
    sun = pv.Light(light_type="scene light", color=(1.0, 0.96, 0.9),
                   intensity=3.0 if quality.pbr else 0.85)
    sun.positional = False
    sun.position = tuple(direction(quality.sun_azimuth, quality.sun_elevation))
    sun.focal_point = (0.0, 0.0, 0.0)
    plotter.add_light(sun)
    if quality.pbr:
        _environment(plotter, quality)
    else:
        fill = pv.Light(light_type="headlight", intensity=0.35)
        plotter.add_light(fill)
    return _passes(plotter, quality, scene_size)


def _environment(plotter, quality: Quality) -> None:
    """Image-based lighting from :func:`sky_image`, z up."""
    import pyvista as pv

    texture = pv.Texture(sky_image(sun_azimuth=quality.sun_azimuth, sun_elevation=quality.sun_elevation))
    texture.mipmap = True
    texture.interpolate = True
    renderer = plotter.renderer
    renderer.SetEnvironmentUp(0.0, 0.0, 1.0)
    renderer.SetEnvironmentRight(1.0, 0.0, 0.0)
    renderer.SetEnvironmentTexture(texture, False)
    renderer.UseImageBasedLightingOn()
    renderer.UseSphericalHarmonicsOn()


def _passes(plotter, quality: Quality, scene_size: float) -> list:
    """The render-pass chain: scene -> SSAO -> FXAA or SSAA -> tone mapping (which works only outermost)."""
    import vtk

    if not (quality.ssao or quality.tone_mapping or quality.anti_aliasing != "none"):
        return []
    steps = vtk.vtkRenderStepsPass()
    current = vtk.vtkCameraPass()
    current.SetDelegatePass(steps)
    made = [steps, current]
    if quality.ssao:
        ssao = vtk.vtkSSAOPass()
        ssao.SetDelegatePass(current)
        ssao.SetRadius(0.012 * scene_size)
        ssao.SetBias(0.002 * scene_size)
        ssao.SetKernelSize(48)
        ssao.BlurOn()
        current = ssao
        made.append(ssao)
    if quality.anti_aliasing == "fxaa":
        fxaa = vtk.vtkOpenGLFXAAPass()
        fxaa.SetDelegatePass(current)
        current = fxaa
        made.append(fxaa)
    elif quality.anti_aliasing == "ssaa":
        ssaa = vtk.vtkSSAAPass()
        ssaa.SetDelegatePass(current)
        current = ssaa
        made.append(ssaa)
    if quality.tone_mapping:
        tone = vtk.vtkToneMappingPass()
        tone.SetToneMappingType(vtk.vtkToneMappingPass.GenericFilmic)
        tone.SetGenericFilmicDefaultPresets()
        tone.SetUseACES(True)
        tone.SetExposure(1.0)
        tone.SetDelegatePass(current)
        current = tone
        made.append(tone)
    plotter.renderer.SetPass(current)
    return made
