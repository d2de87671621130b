//! One module per cloud. Each owns its wire types (serde structs named as the API names them), its
//! signing and its mapping to `model` types; nothing outside `providers/` sees a wire field.

pub mod outscale;
pub mod ovh;
pub mod powervc;

use crate::error::{Error, Result};

/// UUID ids (EFS services, shares and snapshots; Cinder volumes and snapshots): refuse anything
/// else before a request exists.
pub fn check_uuid(what: &'static str, value: &str) -> Result<()> {
    let ok = value.len() == 36
        && value.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            what,
            value: value.to_string(),
            reason: "expected a UUID such as 6b1e1f3a-0000-4000-8000-000000000001".into(),
        })
    }
}
