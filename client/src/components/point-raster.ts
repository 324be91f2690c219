// The scatter's points as pixels: a square per point written into an RGBA buffer by hand, two
// colors (losers, then winners over them) at one opacity. A canvas path of 20,000 squares, filled
// once per color, cost the renderer 41-42 ms per scatter (p50, Chromium's software raster, the
// drawing read back to time it; the overview draws two on every zoom): the fill, not the loop.
// Writing the pixels (a mask pass over the points, a pass over the plot) and drawing them as one
// image: 6.3-6.7 ms. Squares are snapped to whole device pixels (the path's squares had soft
// edges at fractional positions). No DOM: unit-tested in Node.

/** An opaque color as 0-255 channels. */
export type Rgb = readonly [number, number, number];

export interface PointRaster {
  /** The plot's size in device pixels; the buffer is width x height RGBA (ImageData's layout). */
  width: number;
  height: number;
  /** Each point's centre in device pixels from the plot's top left; NaN for a point not drawn. */
  px: (i: number) => number;
  py: (i: number) => number;
  count: number;
  /** Which of the two layers a point is in: 0 (drawn first) or 1 (drawn over it). */
  layer: (i: number) => 0 | 1;
  colors: readonly [Rgb, Rgb];
  /** Opacity of each layer's squares (where one square overlaps another of its layer, once). */
  alpha: number;
  /** Side of a square, in device pixels. */
  size: number;
}

/** Writes the points into `out` (cleared first), as a canvas fill of each layer's squares would. */
export function rasterizePoints(out: Uint8ClampedArray, r: PointRaster): void {
  const { width, height, size } = r;
  if (out.length !== width * height * 4) throw new Error(`point raster: a buffer of ${out.length} bytes for ${width} x ${height} pixels`);
  out.fill(0);
  // Which layers cover each pixel (bit 0: layer 0, bit 1: layer 1), kept in the alpha byte while
  // the squares are stamped; then each covered pixel gets its color.
  const reach = Math.floor(size / 2);
  for (let i = 0; i < r.count; i++) {
    const cx = r.px(i);
    const cy = r.py(i);
    if (!Number.isFinite(cx) || !Number.isFinite(cy)) continue;
    const bit = r.layer(i) === 0 ? 1 : 2;
    const x0 = Math.max(0, Math.round(cx) - reach);
    const y0 = Math.max(0, Math.round(cy) - reach);
    const x1 = Math.min(width, Math.round(cx) - reach + size);
    const y1 = Math.min(height, Math.round(cy) - reach + size);
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) out[(y * width + x) * 4 + 3]! |= bit;
    }
  }
  const palette = layerPalette(r.colors, r.alpha);
  for (let p = 3; p < out.length; p += 4) {
    const covered = out[p]!;
    if (covered === 0) continue;
    const [red, green, blue, a] = palette[covered]!;
    out[p - 3] = red;
    out[p - 2] = green;
    out[p - 1] = blue;
    out[p] = a;
  }
}

/**
 * RGBA (not premultiplied, as ImageData holds it) for each coverage: layer 0 alone, layer 1 alone,
 * and layer 1 over layer 0 (source-over: a = a1 + a0 (1 - a1), c = (c1 a1 + c0 a0 (1 - a1)) / a).
 */
export function layerPalette(colors: readonly [Rgb, Rgb], alpha: number): [number, number, number, number][] {
  const [c0, c1] = colors;
  const a = alpha;
  const both = a + a * (1 - a);
  const mix = (k: 0 | 1 | 2) => Math.round((c1[k] * a + c0[k] * a * (1 - a)) / both);
  const byte = (v: number) => Math.round(v * 255);
  return [[0, 0, 0, 0], [c0[0], c0[1], c0[2], byte(a)], [c1[0], c1[1], c1[2], byte(a)], [mix(0), mix(1), mix(2), byte(both)]];
}

/** '#rgb', '#rrggbb' or 'rgb(r, g, b)' / 'rgba(...)' as channels; null for anything else. */
export function parseRgb(color: string): Rgb | null {
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color.trim());
  if (hex) {
    const h = hex[1]!.length === 3 ? [...hex[1]!].map((c) => c + c).join('') : hex[1]!;
    return [parseInt(h.slice(0, 2), 16), parseInt(h.slice(2, 4), 16), parseInt(h.slice(4, 6), 16)];
  }
  const rgb = /^rgba?\(\s*(\d+)[\s,]+(\d+)[\s,]+(\d+)/i.exec(color.trim());
  return rgb ? [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])] : null;
}
