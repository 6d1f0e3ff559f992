//! The one way an enum that crosses the wire or the database is declared: `named_enum!`
//! gives it its SpaceONE names, a `parse` for input that names the field it came from, and a
//! SeaORM column type, so a stored value that is none of the names fails the read (an
//! internal error) instead of being patched.

/// Declares an enum stored and sent by its SpaceONE names:
/// `named_enum!(/// docs
/// Name, "field" { /// docs
/// Variant = "NAME", ... });`
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal {
        $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)?
    }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, sea_orm::EnumIter,
            sea_orm::DeriveActiveEnum,
        )]
        #[sea_orm(rs_type = "String", db_type = "Text")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $text)] $variant),+
        }

        impl $name {
            /// The stored and wire name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Reads a name a caller sent; anything else is an invalid value of the field.
            pub fn parse(value: &str) -> $crate::error::Result<Self> {
                match value {
                    $($text => Ok(Self::$variant),)+
                    other => Err($crate::error::Error::invalid(
                        $field,
                        format!(
                            "{} is not one of {}",
                            $crate::domain::fields::quoted(other),
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(
                &self,
                serializer: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(
                deserializer: D,
            ) -> std::result::Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

pub(crate) use named_enum;
