//! gRPC server reflection, v1 and v1alpha, over the service's own descriptors.
//!
//! Reflection lists exactly the SpaceONE services: `spacectl` and spaceone-core's client
//! load every listed service as an API of the endpoint, and fail on anything else (health,
//! reflection itself). Every file stays reachable by name and by symbol, the unlisted
//! services' too, under its upstream name, and a file is answered first, followed by every
//! file it depends on (directly or not), each once, as the reflection protocol asks and as
//! clients that resolve a service in one round trip expect. Files are served as the bytes
//! the compiler wrote, so extension options such as `google.api.http` survive. A request
//! for something unknown is answered with an error response (NOT_FOUND) on the stream,
//! which stays open for the next request.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    pin::Pin,
    sync::Arc,
};

use futures_util::{Stream, StreamExt};
use prost::Message;
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorProto};
use tonic::{Request, Response, Status, Streaming};

use crate::error::{Error, Result};

/// Every file, symbol and extension of the registered descriptor sets, and the services
/// to list.
#[derive(Debug)]
pub struct Catalog {
    files: HashMap<String, CatalogFile>,
    symbols: HashMap<String, String>,
    extensions: HashMap<String, Vec<(i32, String)>>,
    services: Vec<String>,
}

#[derive(Debug)]
struct CatalogFile {
    raw: Vec<u8>,
    dependencies: Vec<String>,
}

/// What a reflection request asks, whichever version of the protocol carried it.
#[derive(Debug)]
enum Question {
    FileByFilename(String),
    FileContainingSymbol(String),
    FileContainingExtension {
        containing_type: String,
        number: i32,
    },
    AllExtensionNumbersOfType(String),
    ListServices,
}

/// What the catalog answers, whichever version of the protocol carries it.
#[derive(Debug)]
enum Answer {
    Files(Vec<Vec<u8>>),
    ExtensionNumbers {
        base_type: String,
        numbers: Vec<i32>,
    },
    Services(Vec<String>),
    Error {
        code: tonic::Code,
        message: String,
    },
}

impl Catalog {
    /// A catalog of the encoded file descriptor sets `sets` (the first file of a name
    /// wins) that lists the services `listed`, each of which must be in a set.
    pub fn new(sets: &[&[u8]], listed: &[&str]) -> Result<Self> {
        let mut catalog = Self {
            files: HashMap::new(),
            symbols: HashMap::new(),
            extensions: HashMap::new(),
            services: listed.iter().map(|name| (*name).to_owned()).collect(),
        };
        for set in sets {
            for raw in split_set(set)? {
                let file = FileDescriptorProto::decode(raw).map_err(Error::internal)?;
                catalog.add(file, raw.to_vec());
            }
        }
        catalog.services.sort();
        for service in &catalog.services {
            if !catalog.symbols.contains_key(service) {
                return Err(Error::internal(format!(
                    "reflection lists {service}, which no descriptor defines"
                )));
            }
        }
        Ok(catalog)
    }

    fn add(&mut self, file: FileDescriptorProto, raw: Vec<u8>) {
        let name = file.name().to_owned();
        if self.files.contains_key(&name) {
            return;
        }
        let package = file.package();
        let mut symbols = Vec::new();
        for message in &file.message_type {
            message_symbols(package, message, &mut symbols);
        }
        for enumeration in &file.enum_type {
            enum_symbols(package, enumeration, &mut symbols);
        }
        for service in &file.service {
            let service_name = qualified(package, service.name());
            for method in &service.method {
                symbols.push(qualified(&service_name, method.name()));
            }
            symbols.push(service_name);
        }
        for extension in &file.extension {
            symbols.push(qualified(package, extension.name()));
            self.extensions
                .entry(extension.extendee().trim_start_matches('.').to_owned())
                .or_default()
                .push((extension.number(), name.clone()));
        }
        for symbol in symbols {
            self.symbols.entry(symbol).or_insert_with(|| name.clone());
        }
        self.files.insert(
            name,
            CatalogFile {
                raw,
                dependencies: file.dependency,
            },
        );
    }

    fn answer(&self, question: Question) -> Answer {
        match question {
            Question::FileByFilename(name) => self.file_and_dependencies(&name, "file"),
            Question::FileContainingSymbol(symbol) => {
                match self.symbols.get(symbol.trim_start_matches('.')) {
                    Some(file) => self.file_and_dependencies(file, "symbol"),
                    None => not_found("symbol", &symbol),
                }
            }
            Question::FileContainingExtension {
                containing_type,
                number,
            } => {
                let file = self
                    .extensions
                    .get(containing_type.trim_start_matches('.'))
                    .and_then(|list| list.iter().find(|(n, _)| *n == number));
                match file {
                    Some((_, file)) => self.file_and_dependencies(file, "extension"),
                    None => not_found("extension", &format!("{containing_type} {number}")),
                }
            }
            Question::AllExtensionNumbersOfType(base_type) => {
                let name = base_type.trim_start_matches('.');
                if !self.symbols.contains_key(name) {
                    return not_found("type", &base_type);
                }
                let mut numbers: Vec<i32> = self
                    .extensions
                    .get(name)
                    .map(|list| list.iter().map(|(n, _)| *n).collect())
                    .unwrap_or_default();
                numbers.sort_unstable();
                Answer::ExtensionNumbers { base_type, numbers }
            }
            Question::ListServices => Answer::Services(self.services.clone()),
        }
    }

    /// The file `name` first, then every file it depends on, directly or not, each once.
    fn file_and_dependencies(&self, name: &str, asked: &str) -> Answer {
        if !self.files.contains_key(name) {
            return not_found(asked, name);
        }
        let mut seen = HashSet::from([name]);
        let mut queue = VecDeque::from([name]);
        let mut files = Vec::new();
        while let Some(next) = queue.pop_front() {
            let Some(file) = self.files.get(next) else {
                continue;
            };
            files.push(file.raw.clone());
            for dependency in &file.dependencies {
                if seen.insert(dependency.as_str()) {
                    queue.push_back(dependency.as_str());
                }
            }
        }
        Answer::Files(files)
    }
}

fn not_found(what: &str, name: &str) -> Answer {
    Answer::Error {
        code: tonic::Code::NotFound,
        message: format!("{what} {} not found", crate::domain::quoted(name)),
    }
}

fn qualified(scope: &str, name: &str) -> String {
    if scope.is_empty() {
        name.to_owned()
    } else {
        format!("{scope}.{name}")
    }
}

fn message_symbols(scope: &str, message: &DescriptorProto, symbols: &mut Vec<String>) {
    let name = qualified(scope, message.name());
    for field in &message.field {
        symbols.push(qualified(&name, field.name()));
    }
    for oneof in &message.oneof_decl {
        symbols.push(qualified(&name, oneof.name()));
    }
    for nested in &message.nested_type {
        message_symbols(&name, nested, symbols);
    }
    for enumeration in &message.enum_type {
        enum_symbols(&name, enumeration, symbols);
    }
    symbols.push(name);
}

/// An enum, and its values, which protobuf scopes beside the enum rather than inside it.
fn enum_symbols(scope: &str, enumeration: &EnumDescriptorProto, symbols: &mut Vec<String>) {
    for value in &enumeration.value {
        symbols.push(qualified(scope, value.name()));
    }
    symbols.push(qualified(scope, enumeration.name()));
}

/// The encoded `FileDescriptorProto`s of an encoded `FileDescriptorSet` (its field 1),
/// as they are: decoding and encoding again would drop extension options.
fn split_set(mut set: &[u8]) -> Result<Vec<&[u8]>> {
    const FILE_FIELD_KEY: u64 = (1 << 3) | 2;
    let malformed = || Error::internal("a file descriptor set is malformed");
    let mut files = Vec::new();
    while !set.is_empty() {
        let key = read_varint(&mut set).ok_or_else(malformed)?;
        if key != FILE_FIELD_KEY {
            return Err(malformed());
        }
        let len = read_varint(&mut set)
            .and_then(|len| usize::try_from(len).ok())
            .filter(|len| *len <= set.len())
            .ok_or_else(malformed)?;
        let (file, rest) = set.split_at(len);
        files.push(file);
        set = rest;
    }
    Ok(files)
}

fn read_varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

type Responses<T> = Pin<Box<dyn Stream<Item = std::result::Result<T, Status>> + Send>>;

/// The two versions of the protocol differ only in their package: one implementation,
/// written once for each.
macro_rules! reflection_version {
    ($module:ident, $($pb:ident)::+) => {
        /// Reflection in this version of the protocol.
        pub mod $module {
            use super::*;
            use $($pb)::+ as pb;
            use pb::server_reflection_request::MessageRequest;
            use pb::server_reflection_response::MessageResponse;

            /// The reflection service over a shared catalog.
            pub fn service(
                catalog: Arc<Catalog>,
            ) -> pb::server_reflection_server::ServerReflectionServer<Reflection> {
                pb::server_reflection_server::ServerReflectionServer::new(Reflection { catalog })
            }

            /// Answers reflection requests from the catalog, one response per request.
            pub struct Reflection {
                catalog: Arc<Catalog>,
            }

            #[tonic::async_trait]
            impl pb::server_reflection_server::ServerReflection for Reflection {
                type ServerReflectionInfoStream = Responses<pb::ServerReflectionResponse>;

                async fn server_reflection_info(
                    &self,
                    request: Request<Streaming<pb::ServerReflectionRequest>>,
                ) -> std::result::Result<Response<Self::ServerReflectionInfoStream>, Status> {
                    let catalog = self.catalog.clone();
                    let responses = request
                        .into_inner()
                        .map(move |request| request.map(|request| respond(&catalog, request)));
                    Ok(Response::new(Box::pin(responses)))
                }
            }

            fn respond(
                catalog: &Catalog,
                request: pb::ServerReflectionRequest,
            ) -> pb::ServerReflectionResponse {
                let question = match request.message_request.clone() {
                    Some(MessageRequest::FileByFilename(name)) => {
                        Some(Question::FileByFilename(name))
                    }
                    Some(MessageRequest::FileContainingSymbol(symbol)) => {
                        Some(Question::FileContainingSymbol(symbol))
                    }
                    Some(MessageRequest::FileContainingExtension(extension)) => {
                        Some(Question::FileContainingExtension {
                            containing_type: extension.containing_type,
                            number: extension.extension_number,
                        })
                    }
                    Some(MessageRequest::AllExtensionNumbersOfType(base_type)) => {
                        Some(Question::AllExtensionNumbersOfType(base_type))
                    }
                    Some(MessageRequest::ListServices(_)) => Some(Question::ListServices),
                    None => None,
                };
                let answer = match question {
                    Some(question) => catalog.answer(question),
                    None => Answer::Error {
                        code: tonic::Code::InvalidArgument,
                        message: "the request asks nothing".into(),
                    },
                };
                let message_response = match answer {
                    Answer::Files(files) => {
                        MessageResponse::FileDescriptorResponse(pb::FileDescriptorResponse {
                            file_descriptor_proto: files,
                        })
                    }
                    Answer::ExtensionNumbers { base_type, numbers } => {
                        MessageResponse::AllExtensionNumbersResponse(pb::ExtensionNumberResponse {
                            base_type_name: base_type,
                            extension_number: numbers,
                        })
                    }
                    Answer::Services(names) => {
                        MessageResponse::ListServicesResponse(pb::ListServiceResponse {
                            service: names
                                .into_iter()
                                .map(|name| pb::ServiceResponse { name })
                                .collect(),
                        })
                    }
                    Answer::Error { code, message } => {
                        MessageResponse::ErrorResponse(pb::ErrorResponse {
                            error_code: code as i32,
                            error_message: message,
                        })
                    }
                };
                pb::ServerReflectionResponse {
                    valid_host: request.host.clone(),
                    original_request: Some(request),
                    message_response: Some(message_response),
                }
            }
        }
    };
}

reflection_version!(v1, tonic_reflection::pb::v1);
reflection_version!(v1alpha, tonic_reflection::pb::v1alpha);

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::new(
            &[
                crate::pb::FILE_DESCRIPTOR_SET,
                tonic_health::pb::FILE_DESCRIPTOR_SET,
            ],
            &["spaceone.api.identity.v2.Token"],
        )
        .unwrap()
    }

    fn names(answer: Answer) -> Vec<String> {
        let files = match answer {
            Answer::Files(files) => files,
            other => panic!("not files: {other:?}"),
        };
        files
            .iter()
            .map(|raw| {
                FileDescriptorProto::decode(raw.as_slice())
                    .unwrap()
                    .name()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn a_file_comes_first_then_every_dependency_once() {
        let files = names(catalog().answer(Question::FileByFilename(
            "spaceone/api/identity/v2/domain.proto".into(),
        )));
        assert_eq!(files[0], "spaceone/api/identity/v2/domain.proto");
        for dependency in [
            "google/protobuf/empty.proto",
            "google/protobuf/struct.proto",
            "google/api/annotations.proto",
            "google/api/http.proto",
            "google/protobuf/descriptor.proto",
            "spaceone/api/core/v2/query.proto",
            "spaceone/api/core/v2/handler.proto",
        ] {
            assert_eq!(
                files.iter().filter(|f| *f == dependency).count(),
                1,
                "{dependency}"
            );
        }
    }

    #[test]
    fn symbols_of_every_kind_are_found() {
        let catalog = catalog();
        for (symbol, file) in [
            (
                "spaceone.api.identity.v2.Domain",
                "spaceone/api/identity/v2/domain.proto",
            ),
            (
                "spaceone.api.identity.v2.Domain.get_public_key",
                "spaceone/api/identity/v2/domain.proto",
            ),
            (
                "spaceone.api.core.v2.AuthenticationRequest",
                "spaceone/api/core/v2/handler.proto",
            ),
            (
                "spaceone.api.identity.v2.DomainAuthInfo.ExternalAuthState",
                "spaceone/api/identity/v2/domain.proto",
            ),
            ("google.protobuf.Struct", "google/protobuf/struct.proto"),
            ("google.api.http", "google/api/annotations.proto"),
            ("grpc.health.v1.Health", "health.proto"),
        ] {
            let files = names(catalog.answer(Question::FileContainingSymbol(symbol.into())));
            assert_eq!(files[0], file, "{symbol}");
        }
        assert!(matches!(
            catalog.answer(Question::FileContainingSymbol("no.Such".into())),
            Answer::Error {
                code: tonic::Code::NotFound,
                ..
            }
        ));
    }

    #[test]
    fn only_the_listed_services_are_listed() {
        let Answer::Services(services) = catalog().answer(Question::ListServices) else {
            panic!("not services");
        };
        assert_eq!(services, ["spaceone.api.identity.v2.Token"]);
        assert!(
            Catalog::new(&[crate::pb::FILE_DESCRIPTOR_SET], &["no.Such"]).is_err(),
            "a listed service must exist"
        );
    }

    #[test]
    fn extensions_are_found_by_type_and_number() {
        let catalog = catalog();
        let files = names(catalog.answer(Question::FileContainingExtension {
            containing_type: "google.protobuf.MethodOptions".into(),
            number: 72_295_728,
        }));
        assert_eq!(files[0], "google/api/annotations.proto");
        let Answer::ExtensionNumbers { numbers, .. } = catalog.answer(
            Question::AllExtensionNumbersOfType("google.protobuf.MethodOptions".into()),
        ) else {
            panic!("not numbers");
        };
        assert_eq!(numbers, [72_295_728]);
    }
}
