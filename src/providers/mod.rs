//! One module per cloud. Each owns its wire types (serde structs named as the API names them), its
//! signing and its mapping to `model` types; nothing outside `providers/` sees a wire field.

pub mod outscale;
pub mod ovh;
