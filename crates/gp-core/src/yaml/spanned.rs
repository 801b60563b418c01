//! [`Spanned`] values and [`RawNode`] subtrees: what typed structures keep
//! of the YAML they were read from.

use super::*;

/// A value and the span of the YAML node it was read from.
///
/// Read through any other deserializer (e.g. JSON) the positions are zero.
#[derive(Clone, Debug)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where its node starts.
    pub start: Pos,
    /// Where its node ends.
    pub end: Pos,
}

impl<T> Spanned<T> {
    /// A value with no known position.
    pub fn unpositioned(value: T) -> Self {
        Self {
            value,
            start: Pos::default(),
            end: Pos::default(),
        }
    }
}

impl<T: Default> Default for Spanned<T> {
    fn default() -> Self {
        Spanned::unpositioned(T::default())
    }
}

impl<T: PartialEq> PartialEq for Spanned<T> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: Serialize> Serialize for Spanned<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(s)
    }
}

impl<T: schemars::JsonSchema> schemars::JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        T::json_schema(generator)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Spanned<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Spanned<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut n = [0u64; 6];
                for slot in &mut n {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| de::Error::custom("span truncated"))?;
                }
                let value = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::custom("span without value"))?;
                let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
                Ok(Spanned {
                    value,
                    start: Pos {
                        line: to_u32(n[0]),
                        col: to_u32(n[1]),
                        offset: usize::try_from(n[2]).unwrap_or(usize::MAX),
                    },
                    end: Pos {
                        line: to_u32(n[3]),
                        col: to_u32(n[4]),
                        offset: usize::try_from(n[5]).unwrap_or(usize::MAX),
                    },
                })
            }
            fn visit_newtype_struct<D: de::Deserializer<'de>>(
                self,
                d: D,
            ) -> Result<Self::Value, D::Error> {
                T::deserialize(d).map(Spanned::unpositioned)
            }
        }
        d.deserialize_newtype_struct(SPANNED_MARKER, V(std::marker::PhantomData))
    }
}

/// A YAML subtree kept as it was written, for a consumer that types it later
/// (a driver's `settings`). Only readable through [`NodeDeserializer`].
#[derive(Clone, Debug, PartialEq)]
pub struct RawNode(pub Node);

impl Serialize for RawNode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.to_json().serialize(s)
    }
}

impl schemars::JsonSchema for RawNode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DriverSettings".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "object",
            "description": "Settings of the component's driver; each driver documents and validates its own."
        })
    }
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawNode;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a YAML subtree")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNode, E> {
                node_handoff::take(v)
                    .map(RawNode)
                    .ok_or_else(|| E::custom("YAML subtree lost in hand-off"))
            }
        }
        d.deserialize_newtype_struct(NODE_MARKER, V)
    }
}
