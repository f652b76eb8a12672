// Attention input loads, float32 storage: Q, K, V are array<f32>.
fn loadQ(i : i32) -> f32 { return Q[i]; }
fn loadK(i : i32) -> f32 { return K[i]; }
fn loadV(i : i32) -> f32 { return V[i]; }
