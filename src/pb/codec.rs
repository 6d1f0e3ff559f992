//! The codec every generated server and client uses: prost's, plus the one place where the
//! wire tells the two API generations apart.
//!
//! `WorkspaceUserFindRequest` holds `page` in field 3 in the seeds' generation and in field
//! 4 in the current one, where field 3 is `auth_type`. The two are told apart by the field's
//! wire type (a length-delimited `Page` against a varint enum), so before decoding, a
//! length-delimited field 3 is renumbered 4, and both generations' servers decode either
//! layout into the current type (`build.rs` points the seeds' `find` at it).

use std::any::TypeId;
use std::marker::PhantomData;

use bytes::{Buf, Bytes};
use prost::Message;
use prost::encoding::{WireType, decode_key, decode_varint, encode_key};
use tonic::Status;
use tonic::codec::{BufferSettings, DecodeBuf, Decoder};
use tonic_prost::ProstEncoder;

use super::current::identity::WorkspaceUserFindRequest;

/// prost's codec, with `find`'s two layouts read alike.
#[derive(Debug, Clone, Copy)]
pub struct Codec<T, U>(PhantomData<(T, U)>);

impl<T, U> Default for Codec<T, U> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

impl<T, U> tonic::codec::Codec for Codec<T, U>
where
    T: Message + Send + 'static,
    U: Message + Default + Send + 'static,
{
    type Encode = T;
    type Decode = U;
    type Encoder = ProstEncoder<T>;
    type Decoder = LayoutDecoder<U>;

    fn encoder(&mut self) -> Self::Encoder {
        ProstEncoder::default()
    }

    fn decoder(&mut self) -> Self::Decoder {
        LayoutDecoder(PhantomData)
    }
}

/// Decodes `U` as prost does, after renumbering the seeds' `find` page.
#[derive(Debug)]
pub struct LayoutDecoder<U>(PhantomData<U>);

impl<U: Message + Default + 'static> Decoder for LayoutDecoder<U> {
    type Item = U;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<U>, Status> {
        let decoded = if TypeId::of::<U>() == TypeId::of::<WorkspaceUserFindRequest>() {
            let bytes = buf.copy_to_bytes(buf.remaining());
            U::decode(renumber_seeds_page(bytes))
        } else {
            U::decode(buf)
        };
        // prost's codec words it so; the server's edge answers INVALID_ARGUMENT for it.
        decoded
            .map(Some)
            .map_err(|error| Status::internal(error.to_string()))
    }

    fn buffer_settings(&self) -> BufferSettings {
        BufferSettings::default()
    }
}

/// `message` with every length-delimited field 3 (the seeds' `page`) renumbered 4 (the
/// current generation's). Bytes that are not a well-formed message are left as they are,
/// for prost to refuse.
pub fn renumber_seeds_page(message: Bytes) -> Bytes {
    if !has_seeds_page(&message) {
        return message;
    }
    let mut out = Vec::with_capacity(message.len());
    let mut rest = &message[..];
    while !rest.is_empty() {
        let field = rest;
        let Ok((tag, wire_type)) = decode_key(&mut rest) else {
            return message;
        };
        let body = rest;
        if skip_value(wire_type, &mut rest).is_none() {
            return message;
        }
        if tag == 3 && wire_type == WireType::LengthDelimited {
            encode_key(4, WireType::LengthDelimited, &mut out);
            out.extend_from_slice(&body[..body.len() - rest.len()]);
        } else {
            out.extend_from_slice(&field[..field.len() - rest.len()]);
        }
    }
    Bytes::from(out)
}

/// Whether `message` holds a length-delimited field 3 (most requests do not: no copy then).
fn has_seeds_page(message: &[u8]) -> bool {
    let mut rest = message;
    while !rest.is_empty() {
        let Ok((tag, wire_type)) = decode_key(&mut rest) else {
            return false;
        };
        if tag == 3 && wire_type == WireType::LengthDelimited {
            return true;
        }
        if skip_value(wire_type, &mut rest).is_none() {
            return false;
        }
    }
    false
}

/// Moves `rest` past one value of `wire_type`; `None` if it is cut short or a group.
fn skip_value(wire_type: WireType, rest: &mut &[u8]) -> Option<()> {
    let len = match wire_type {
        WireType::Varint => {
            decode_varint(rest).ok()?;
            0
        }
        WireType::SixtyFourBit => 8,
        WireType::ThirtyTwoBit => 4,
        WireType::LengthDelimited => usize::try_from(decode_varint(rest).ok()?).ok()?,
        WireType::StartGroup | WireType::EndGroup => return None,
    };
    if rest.len() < len {
        return None;
    }
    rest.advance(len);
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::core::Page;

    fn find(page: Option<Page>, auth_type: i32) -> WorkspaceUserFindRequest {
        WorkspaceUserFindRequest {
            keyword: "jörg".into(),
            state: 1,
            auth_type,
            page,
            workspace_id: "workspace-1".into(),
        }
    }

    /// The seeds' layout of a find request: `page` in field 3.
    fn seeds_bytes(page: Page) -> Vec<u8> {
        let mut out = Vec::new();
        prost::encoding::string::encode(1, &"jörg".to_string(), &mut out);
        prost::encoding::int32::encode(2, &1, &mut out);
        prost::encoding::message::encode(3, &page, &mut out);
        prost::encoding::string::encode(21, &"workspace-1".to_string(), &mut out);
        out
    }

    fn decoded(bytes: Vec<u8>) -> WorkspaceUserFindRequest {
        WorkspaceUserFindRequest::decode(renumber_seeds_page(Bytes::from(bytes))).unwrap()
    }

    #[test]
    fn the_seeds_page_reads_as_the_current_page() {
        let page = Page {
            start: 11,
            limit: 5,
        };
        assert_eq!(decoded(seeds_bytes(page)), find(Some(page), 0));
    }

    #[test]
    fn the_current_layout_passes_unchanged() {
        let request = find(Some(Page { start: 1, limit: 2 }), 1);
        assert_eq!(decoded(request.encode_to_vec()), request);
        let bytes = Bytes::from(request.encode_to_vec());
        assert_eq!(renumber_seeds_page(bytes.clone()), bytes);
    }

    #[test]
    fn a_field_three_of_another_wire_type_is_left_for_prost_to_refuse() {
        // Field 3 as a fixed32: neither generation's.
        let bytes = vec![0x1d, 1, 0, 0, 0];
        let renumbered = renumber_seeds_page(Bytes::from(bytes.clone()));
        assert_eq!(&renumbered[..], &bytes[..]);
        assert!(WorkspaceUserFindRequest::decode(renumbered).is_err());
    }

    #[test]
    fn broken_bytes_are_left_for_prost_to_refuse() {
        let mut bytes = seeds_bytes(Page { start: 1, limit: 2 });
        bytes.truncate(bytes.len() - 3);
        let renumbered = renumber_seeds_page(Bytes::from(bytes.clone()));
        assert_eq!(&renumbered[..], &bytes[..]);
        assert!(WorkspaceUserFindRequest::decode(renumbered).is_err());
    }
}
