//! The one pagination loop every paginated API goes through.

use crate::error::{Error, Result};

/// The one pagination loop: call `fetch` with the cursor (`None` first) until it answers no next
/// cursor, each page's items going to `sink` as soon as the page is read (and dropped after, so
/// memory does not grow with the number of items). A cursor seen twice is a broken chain and an
/// error, never a short list; `cursor_name` names it in that error (`NextPageToken`, `marker`). A
/// `sink` error (stdout closed) stops the loop.
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

/// One JSON page decoded in one pass, each item turned into what the caller keeps as soon as it is
/// read (`keep`: map, filter, or both): neither a `serde_json::Value` of the page nor a `Vec` of
/// its wire items is ever built, so a page costs its body plus what is kept. `items` names the
/// keys that may hold the list (the first found is used); `meta` the key holding the cursor, read
/// as `M`; every other key is skipped. The list's key absent: `None`, for the caller to judge.
pub fn decode_page<'a, T, U, M, K>(
    body: &[u8],
    items: &'a [&'a str],
    meta: &'a str,
    keep: K,
) -> serde_json::Result<(Option<Vec<U>>, Option<M>)>
where
    T: serde::de::DeserializeOwned,
    M: serde::de::DeserializeOwned,
    K: FnMut(T) -> Option<U>,
{
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(body);
    let page = PageSeed {
        items,
        meta,
        keep,
        types: std::marker::PhantomData::<(T, M)>,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(page)
}

/// A body that is a bare JSON list (OVH's answers), each element turned into what the caller
/// keeps as soon as it is read, as [`decode_page`] does for a page's list: no `Vec` of wire items
/// is built beside the body.
pub fn decode_list<T, U, K>(body: &[u8], mut keep: K) -> serde_json::Result<Vec<U>>
where
    T: serde::de::DeserializeOwned,
    K: FnMut(T) -> Option<U>,
{
    use serde::de::DeserializeSeed;
    let mut de = serde_json::Deserializer::from_slice(body);
    let kept = Items::<T, U, K> {
        keep: &mut keep,
        item: std::marker::PhantomData,
    }
    .deserialize(&mut de)?;
    de.end()?;
    Ok(kept)
}

struct PageSeed<'a, T, M, K> {
    items: &'a [&'a str],
    meta: &'a str,
    keep: K,
    types: std::marker::PhantomData<(T, M)>,
}

impl<'de, T, U, M, K> serde::de::DeserializeSeed<'de> for PageSeed<'_, T, M, K>
where
    T: serde::de::DeserializeOwned,
    M: serde::de::DeserializeOwned,
    K: FnMut(T) -> Option<U>,
{
    type Value = (Option<Vec<U>>, Option<M>);

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T, U, M, K> serde::de::Visitor<'de> for PageSeed<'_, T, M, K>
where
    T: serde::de::DeserializeOwned,
    M: serde::de::DeserializeOwned,
    K: FnMut(T) -> Option<U>,
{
    type Value = (Option<Vec<U>>, Option<M>);

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "an object with `{}`", self.items.join("` or `"))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        mut self,
        mut map: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let (mut kept, mut meta) = (None, None);
        while let Some(key) = map.next_key::<String>()? {
            if kept.is_none() && self.items.contains(&key.as_str()) {
                kept = Some(map.next_value_seed(Items::<T, _, _> {
                    keep: &mut self.keep,
                    item: std::marker::PhantomData,
                })?);
            } else if key == self.meta {
                meta = map.next_value::<Option<M>>()?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok((kept, meta))
    }
}

/// The list of a page, each element handed to `keep` as soon as it is read.
struct Items<'k, T, U, K: FnMut(T) -> Option<U>> {
    keep: &'k mut K,
    item: std::marker::PhantomData<(T, U)>,
}

impl<'de, T, U, K> serde::de::DeserializeSeed<'de> for Items<'_, T, U, K>
where
    T: serde::de::DeserializeOwned,
    K: FnMut(T) -> Option<U>,
{
    type Value = Vec<U>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        d: D,
    ) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de, T, U, K> serde::de::Visitor<'de> for Items<'_, T, U, K>
where
    T: serde::de::DeserializeOwned,
    K: FnMut(T) -> Option<U>,
{
    type Value = Vec<U>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            out.extend((self.keep)(item));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Item {
        id: String,
        n: u32,
    }

    #[test]
    fn a_bare_list_is_read_in_one_pass_keeping_only_what_is_asked() {
        let body = br#"[{"id": "a", "n": 1}, {"id": "b", "n": 2}, {"id": "c", "n": 3}]"#;
        let kept = decode_list::<Item, String, _>(body, |i| (i.n != 2).then_some(i.id))
            .expect("the list parses");
        assert_eq!(kept, vec!["a".to_string(), "c".to_string()]);
        assert!(decode_list::<Item, Item, _>(br#"{"id": "a", "n": 1}"#, Some).is_err());
        assert!(decode_list::<Item, Item, _>(br#"[{"id": "a"}]"#, Some).is_err());
        assert!(decode_list::<Item, Item, _>(br#"[] []"#, Some).is_err());
    }

    #[test]
    fn a_page_is_read_in_one_pass_keeping_only_what_is_asked() {
        let body = br#"{"ResponseContext": {"RequestId": "r"},
            "Volumes": [{"id": "a", "n": 1}, {"id": "b", "n": 2}, {"id": "c", "n": 3}],
            "Extra": [1, {"deep": null}], "NextPageToken": "t2"}"#;
        let (kept, next) = decode_page::<Item, String, String, _>(
            body,
            &["Snapshots", "Volumes"],
            "NextPageToken",
            |i| (i.n != 2).then_some(i.id),
        )
        .expect("the page parses");
        assert_eq!(kept, Some(vec!["a".to_string(), "c".to_string()]));
        assert_eq!(next.as_deref(), Some("t2"));

        let (kept, next) = decode_page::<Item, Item, String, _>(
            br#"{"NextPageToken": null}"#,
            &["Volumes"],
            "NextPageToken",
            Some,
        )
        .expect("no list");
        assert!(kept.is_none() && next.is_none());
        for bad in [
            &br#"{"Volumes": [{"id": "a"}]}"#[..],
            br#"{"Volumes": []} trailing"#,
            br#"["not", "an", "object"]"#,
        ] {
            assert!(
                decode_page::<Item, Item, String, _>(bad, &["Volumes"], "NextPageToken", Some)
                    .is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
