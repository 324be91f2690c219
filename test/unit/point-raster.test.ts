// The scatter's points written as pixels (client/src/components/point-raster.ts): squares where the
// points are, each layer's squares at one opacity however many overlap, the second layer over the
// first as a canvas composites it, points at the edges clipped, points without a value skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { layerPalette, parseRgb, rasterizePoints, type PointRaster, type Rgb } from '../../client/src/components/point-raster.js';

const RED: Rgb = [220, 38, 38];
const GREEN: Rgb = [21, 128, 61];

function raster(points: [number, number, 0 | 1][], width = 12, height = 10, size = 3): Uint8ClampedArray {
  const out = new Uint8ClampedArray(width * height * 4);
  const r: PointRaster = {
    width,
    height,
    count: points.length,
    px: (i) => points[i]![0],
    py: (i) => points[i]![1],
    layer: (i) => points[i]![2],
    colors: [RED, GREEN],
    alpha: 0.55,
    size,
  };
  rasterizePoints(out, r);
  return out;
}

const pixel = (out: Uint8ClampedArray, width: number, x: number, y: number) => [...out.subarray((y * width + x) * 4, (y * width + x) * 4 + 4)];
const covered = (out: Uint8ClampedArray, width: number) => {
  const at: string[] = [];
  for (let p = 0; p < out.length / 4; p++) if (out[p * 4 + 3]! > 0) at.push(`${p % width},${Math.floor(p / width)}`);
  return at;
};

test('a point is a square of its layer color at the layer opacity, centred on its pixel', () => {
  const out = raster([[5.2, 4.8, 0]]);
  assert.deepEqual(covered(out, 12), ['4,4', '5,4', '6,4', '4,5', '5,5', '6,5', '4,6', '5,6', '6,6'].sort((a, b) => {
    const [ax, ay] = a.split(',').map(Number);
    const [bx, by] = b.split(',').map(Number);
    return ay! - by! || ax! - bx!;
  }));
  assert.deepEqual(pixel(out, 12, 5, 5), [...RED, 140]);
});

test('squares of one layer that overlap are one fill (no darker overlap); the second layer composites over the first', () => {
  const out = raster([[4, 4, 0], [5, 4, 0], [6, 4, 1]]);
  assert.deepEqual(pixel(out, 12, 4, 4), [...RED, 140], 'two red squares: still one coat');
  assert.deepEqual(pixel(out, 12, 7, 4), [...GREEN, 140], 'green alone');
  // Green at 0.55 over red at 0.55: alpha 0.55 + 0.55 x 0.45, the colors weighted by their share.
  const a = 0.55 + 0.55 * 0.45;
  const mix = RED.map((r, k) => Math.round((GREEN[k]! * 0.55 + r * 0.55 * 0.45) / a));
  assert.deepEqual(pixel(out, 12, 5, 4), [...mix, Math.round(a * 255)]);
  assert.deepEqual(layerPalette([RED, GREEN], 0.55)[3], [...mix, Math.round(a * 255)]);
});

test('points at the edges are clipped to the plot, points without a position are skipped, the buffer is cleared first', () => {
  const out = new Uint8ClampedArray(12 * 10 * 4).fill(255);
  rasterizePoints(out, { width: 12, height: 10, count: 4, px: (i) => [0, 11.4, Number.NaN, 40][i]!, py: (i) => [0, 9.6, 3, 3][i]!, layer: () => 1, colors: [RED, GREEN], alpha: 0.55, size: 3 });
  // (11.4, 9.6) is the pixel (11, 10): of its square, only the row y = 9 is in the plot.
  assert.deepEqual(covered(out, 12), ['0,0', '1,0', '0,1', '1,1', '10,9', '11,9']);
  assert.deepEqual(pixel(out, 12, 3, 3), [0, 0, 0, 0]);
  assert.throws(() => rasterizePoints(new Uint8ClampedArray(10), { width: 12, height: 10, count: 0, px: () => 0, py: () => 0, layer: () => 0, colors: [RED, GREEN], alpha: 0.5, size: 3 }), /a buffer of 10 bytes for 12 x 10 pixels/);
});

test('a square of a device-pixel ratio of 2 is 6 pixels a side', () => {
  const out = raster([[6, 5, 1]], 12, 10, 6);
  const at = covered(out, 12);
  assert.equal(at.length, 36);
  assert.ok(at.includes('3,2') && at.includes('8,7') && !at.includes('9,7') && !at.includes('2,2'));
});

test('CSS colors as channels: hex of 3 and 6 digits, rgb() and rgba(); anything else is null', () => {
  assert.deepEqual(parseRgb('#dc2626'), [220, 38, 38]);
  assert.deepEqual(parseRgb(' #0f8 '), [0, 255, 136]);
  assert.deepEqual(parseRgb('rgb(21, 128, 61)'), [21, 128, 61]);
  assert.deepEqual(parseRgb('rgba(1,2,3,0.5)'), [1, 2, 3]);
  assert.equal(parseRgb('red'), null);
  assert.equal(parseRgb(''), null);
});
