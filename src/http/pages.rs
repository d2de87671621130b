//! The one pagination loop every paginated API goes through.

use crate::error::{Error, Result};

/// The one pagination loop: call `fetch` with the cursor (`None` first) until it answers no next
/// cursor, collecting every page's items. A cursor seen twice is a broken chain and an error, never
/// a short list; `cursor_name` names it in that error (`NextPageToken`, `marker`).
pub async fn collect_pages<T, F, Fut>(
    provider: crate::kind::ProviderKind,
    what: &str,
    cursor_name: &str,
    fetch: F,
) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>)>>,
{
    let mut out = Vec::new();
    for_each_page(provider, what, cursor_name, fetch, |items| {
        out.extend(items);
        Ok(())
    })
    .await?;
    Ok(out)
}

/// [`collect_pages`] without the collecting: each page's items go to `sink` as soon as the page is
/// read and are dropped after, so memory does not grow with the number of items. A `sink` error
/// (stdout closed) stops the loop.
pub async fn for_each_page<T, F, Fut, S>(
    provider: crate::kind::ProviderKind,
    what: &str,
    cursor_name: &str,
    mut fetch: F,
    mut sink: S,
) -> Result<()>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, Option<String>)>>,
    S: FnMut(Vec<T>) -> Result<()>,
{
    let mut cursor: Option<String> = None;
    let mut seen = std::collections::HashSet::new();
    loop {
        let (items, next) = fetch(cursor.take()).await?;
        sink(items)?;
        match next.filter(|c| !c.is_empty()) {
            None => return Ok(()),
            Some(c) if !seen.insert(c.clone()) => {
                return Err(Error::Decode {
                    provider,
                    action: what.to_string(),
                    detail: format!(
                        "the API repeated {cursor_name} {c:?}: the chain of pages loops, so the listing is incomplete"
                    ),
                });
            }
            Some(c) => cursor = Some(c),
        }
    }
}
