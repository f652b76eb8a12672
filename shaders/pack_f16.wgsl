// Packs a float32 tensor (read flat) into int32 words of two f16 halves: word w = (x[2w], x[2w+1]);
// an odd-length tensor's last word has 0 in its high half. Output shape [ceil(size / 2)].
fn main(index : i32) {
  if (index < uniforms.size) {
    let total = uniforms.xSize;
    let lo = X[2 * index];
    var hi = 0.0;
    if (2 * index + 1 < total) { hi = X[2 * index + 1]; }
    result[index] = bitcast<i32>(pack2x16float(vec2<f32>(lo, hi)));
  }
}
