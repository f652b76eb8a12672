// Attention input loads, packed-f16 storage without the shader-f16 feature: Q, K, V are array<i32>, each word
// holding two consecutive elements of the flat tensor (pack2x16float order: element 2w in the low half).
// Math stays f32.
fn unpackAt(word : i32, i : i32) -> f32 { return unpack2x16float(bitcast<u32>(word))[i & 1]; }
fn loadQ(i : i32) -> f32 { return unpackAt(Q[i >> 1u], i); }
fn loadK(i : i32) -> f32 { return unpackAt(K[i >> 1u], i); }
fn loadV(i : i32) -> f32 { return unpackAt(V[i >> 1u], i); }
