// Small shared views: RGBA canvases, the voxel plot, inline errors, number formatting.
import { type DependencyList, type RefObject, useEffect, useRef } from 'react';
import type { EngineError, RgbaImage } from '../engine/protocol';

/**
 * A ref for a canvas that `paint` draws whenever `deps` change, and draws again when the browser restores a lost 2-D
 * context. Chromium keeps 2-D canvases on the GPU and clears them when its GPU process restarts (it did about a
 * second after a WebGPU device loss, in half the runs): without the repaint on `contextrestored` the images already
 * on screen turned black while the run said Done.
 */
export function usePaintedCanvas(paint: (canvas: HTMLCanvasElement) => void, deps: DependencyList): RefObject<HTMLCanvasElement | null> {
  const ref = useRef<HTMLCanvasElement>(null);
  const latest = useRef(paint);
  latest.current = paint;
  useEffect(() => {
    if (ref.current) latest.current(ref.current);
  }, deps);
  useEffect(() => {
    const canvas = ref.current;
    if (!canvas) return;
    const repaint = () => latest.current(canvas);
    canvas.addEventListener('contextrestored', repaint);
    return () => canvas.removeEventListener('contextrestored', repaint);
  }, []);
  return ref;
}

export function RgbaCanvas({ image, label, size = 128, testId }: { image?: RgbaImage; label: string; size?: number; testId?: string }) {
  const ref = usePaintedCanvas(
    (canvas) => {
      if (!image) return;
      canvas.width = image.width;
      canvas.height = image.height;
      canvas.getContext('2d')!.putImageData(new ImageData(image.pixels as Uint8ClampedArray<ArrayBuffer>, image.width, image.height), 0, 0);
    },
    [image],
  );
  return (
    <canvas
      ref={ref}
      className={image ? 'pixels' : 'pixels empty'}
      role="img"
      aria-label={label}
      data-testid={testId}
      style={{ width: size, height: size }}
    />
  );
}

/** The voxel vector as a min–max envelope per pixel column (fast for any length). */
/** 'values −1262 to 1187' for a sample (4 significant digits), as the model receives them. */
export function voxelRange(voxels: Float32Array): string {
  let lo = Infinity,
    hi = -Infinity;
  for (const v of voxels) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const f = (v: number) => String(Number(v.toPrecision(4)));
  return voxels.length ? `values ${f(lo)} to ${f(hi)}` : 'no values';
}

export function VoxelPlot({ voxels }: { voxels: Float32Array }) {
  const ref = usePaintedCanvas(
    (canvas) => {
      const width = canvas.width,
        height = canvas.height;
      const ctx = canvas.getContext('2d')!;
      ctx.clearRect(0, 0, width, height);
      let lo = Infinity,
        hi = -Infinity;
      for (const v of voxels) {
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      if (!(hi > lo)) {
        hi = lo + 1;
      }
      const y = (v: number) => height - 1 - ((v - lo) / (hi - lo)) * (height - 2);
      ctx.strokeStyle = '#cbd2da';
      ctx.beginPath();
      ctx.moveTo(0, y(0));
      ctx.lineTo(width, y(0));
      ctx.stroke();
      ctx.fillStyle = '#1f5f99';
      ctx.strokeStyle = '#1f5f99';
      if (voxels.length < width) {
        // Fewer voxels than pixels: a polyline through every value.
        ctx.beginPath();
        voxels.forEach((v, i) => {
          const x = (i / Math.max(1, voxels.length - 1)) * (width - 1);
          if (i) ctx.lineTo(x, y(v));
          else ctx.moveTo(x, y(v));
        });
        ctx.stroke();
        return;
      }
      const per = voxels.length / width;
      for (let x = 0; x < width; x++) {
        const a = Math.floor(x * per),
          b = Math.max(a + 1, Math.floor((x + 1) * per));
        let mn = Infinity,
          mx = -Infinity;
        for (let i = a; i < b && i < voxels.length; i++) {
          if (voxels[i] < mn) mn = voxels[i];
          if (voxels[i] > mx) mx = voxels[i];
        }
        if (mn === Infinity) continue;
        ctx.fillRect(x, y(mx), 1, Math.max(1, y(mn) - y(mx)));
      }
    },
    [voxels],
  );
  return (
    <canvas
      ref={ref}
      width={560}
      height={110}
      className="plot"
      role="img"
      data-testid="voxel-plot"
      aria-label={`Plot of ${voxels.length} voxel values`}
    />
  );
}

export function ErrorBox({ error, testId }: { error?: EngineError; testId?: string }) {
  if (!error) return null;
  return (
    <div className="error" role="alert" data-testid={testId}>
      <strong>{error.code}</strong>: {error.message}
      {error.detail ? <div className="detail">{error.detail}</div> : null}
    </div>
  );
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024,
    i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(n);
}

export function SyntheticTag({ text }: { text?: string }) {
  return text ? (
    <span className="tag synthetic" data-testid="synthetic-label">
      {text}
    </span>
  ) : null;
}
