//!enable f16
// Attention input loads with the shader-f16 feature: the same packed words as attention_load_f16packed.wgsl,
// read as native vec2<f16> (the marker line above makes the wrapper's device hook put `enable f16;` at the
// top of the module, before tfjs's generated declarations). Math stays f32.
fn halfAt(word : i32, i : i32) -> f32 { return f32(bitcast<vec2<f16>>(word)[i & 1]); }
fn loadQ(i : i32) -> f32 { return halfAt(Q[i >> 1u], i); }
fn loadK(i : i32) -> f32 { return halfAt(K[i >> 1u], i); }
fn loadV(i : i32) -> f32 { return halfAt(V[i >> 1u], i); }
