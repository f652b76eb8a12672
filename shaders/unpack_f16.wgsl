// Unpacks int32 words of two f16 halves (pack_f16.wgsl's layout: element 2i in the low half of word i) into
// float32: a weight matrix kept packed on the device is widened here, just before the op that reads it.
// Output: `size` elements (the matrix's logical shape, flat).
fn main(index : i32) {
  if (index < uniforms.size) {
    result[index] = unpack2x16float(bitcast<u32>(X[index >> 1u]))[index & 1];
  }
}
