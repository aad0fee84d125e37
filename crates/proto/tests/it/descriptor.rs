use std::collections::BTreeMap;

use coinjecture_proto::FILE_DESCRIPTOR_SET;
use prost::Message as _;
use prost_types::FileDescriptorSet;

fn descriptor_set() -> FileDescriptorSet {
    FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).expect("FILE_DESCRIPTOR_SET decodes")
}

/// Every service of package `coinjecture.v1`, by name, with its method names.
fn services() -> BTreeMap<String, Vec<String>> {
    descriptor_set()
        .file
        .iter()
        .filter(|file| file.package() == "coinjecture.v1")
        .flat_map(|file| &file.service)
        .map(|service| {
            let methods = service.method.iter().map(|m| m.name().to_owned()).collect();
            (service.name().to_owned(), methods)
        })
        .collect()
}

#[test]
fn descriptor_set_holds_the_six_package_files() {
    let set = descriptor_set();
    let mut names: Vec<&str> = set.file.iter().map(|file| file.name()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "coinjecture/v1/api.proto",
            "coinjecture/v1/consensus.proto",
            "coinjecture/v1/crypto.proto",
            "coinjecture/v1/ledger.proto",
            "coinjecture/v1/p2p.proto",
            "coinjecture/v1/types.proto",
        ]
    );
    for file in &set.file {
        assert_eq!(file.package(), "coinjecture.v1", "{}", file.name());
        assert_eq!(
            file.options.as_ref().and_then(|o| o.go_package.as_deref()),
            Some("github.com/coinjecture/coinjecture/clients/go/gen/coinjecture/v1;coinjecturev1"),
            "{}",
            file.name()
        );
    }
}

#[test]
fn descriptor_set_holds_the_five_services_with_their_methods() {
    let expected: BTreeMap<&str, &[&str]> = BTreeMap::from([
        (
            "CryptoCore",
            &[
                "Sha256",
                "Sha256Batch",
                "MerkleRoot",
                "MerkleProof",
                "VerifyMerkleProof",
                "HashHeader",
                "HashTransaction",
                "HashTransactionBatch",
                "VerifySubsetSum",
                "Ed25519Verify",
                "Ed25519VerifyBatch",
                "DeriveAddress",
                "EpochSalt",
                "CommitRevealCommitment",
                "GoldenVectorsSelfTest",
                "VerifyBlock",
            ][..],
        ),
        (
            "Ledger",
            &[
                "GetGenesis",
                "GetChainInfo",
                "GetBlockByHeight",
                "GetBlockByHash",
                "GetBlockRange",
                "GetTransaction",
                "GetAccount",
                "GetAccountHistory",
                "CheckTransactions",
                "ExecuteBlock",
                "ApplyBlock",
                "RecordEvidence",
                "ListRecordedEvidence",
            ][..],
        ),
        ("Consensus", &["SubmitTransactions", "GetStatus", "GetValidatorSet", "ListEvidence", "GetMempoolStats"][..]),
        (
            "P2pGateway",
            &["Publish", "Subscribe", "ReportValidation", "ListPeers", "Dial", "RequestBlocks", "GetNetworkInfo"][..],
        ),
        (
            "PublicApi",
            &[
                "GetStatus",
                "GetBlock",
                "ListBlocks",
                "GetTransaction",
                "SubmitTransaction",
                "SubmitTransactions",
                "GetAccount",
                "ListAccountTransactions",
                "GetValidators",
                "StreamBlocks",
            ][..],
        ),
    ]);
    let actual = services();
    assert_eq!(actual.keys().map(String::as_str).collect::<Vec<_>>(), expected.keys().copied().collect::<Vec<_>>());
    for (service, methods) in expected {
        assert_eq!(actual[service], methods, "methods of {service}");
    }
}

#[test]
fn descriptor_set_keeps_comments_for_reflection() {
    // protox keeps source info; reflection clients and doc generators show these comments.
    let set = descriptor_set();
    for file in &set.file {
        let info = file.source_code_info.as_ref().expect("source info kept");
        assert!(info.location.iter().any(|l| l.leading_comments.is_some()), "{} has comments", file.name());
    }
}

#[test]
fn every_enum_starts_with_an_unspecified_zero() {
    let set = descriptor_set();
    let enums = set.file.iter().flat_map(|file| &file.enum_type).collect::<Vec<_>>();
    assert!(!enums.is_empty());
    for e in enums {
        let first = &e.value[0];
        assert_eq!(first.number(), 0, "{}", e.name());
        assert!(first.name().ends_with("_UNSPECIFIED"), "{}: first value {}", e.name(), first.name());
    }
}

#[test]
fn every_declaration_is_documented() {
    // Field numbers of FileDescriptorProto, DescriptorProto, EnumDescriptorProto and
    // ServiceDescriptorProto, as used in SourceCodeInfo paths.
    const MESSAGE: i32 = 4;
    const ENUM: i32 = 5;
    const SERVICE: i32 = 6;
    const MESSAGE_FIELD: i32 = 2;
    const MESSAGE_ONEOF: i32 = 8;
    const ENUM_VALUE: i32 = 2;
    const SERVICE_METHOD: i32 = 2;

    let mut undocumented = Vec::new();
    for file in &descriptor_set().file {
        let info = file.source_code_info.as_ref().expect("source info kept");
        let documented = |path: &[i32]| {
            info.location
                .iter()
                .any(|l| l.path == path && l.leading_comments.as_deref().is_some_and(|c| !c.trim().is_empty()))
        };
        let mut check = |path: Vec<i32>, what: String| {
            if !documented(&path) {
                undocumented.push(format!("{}: {what}", file.name()));
            }
        };
        for (m, message) in (0..).zip(&file.message_type) {
            check(vec![MESSAGE, m], message.name().to_owned());
            for (f, field) in (0..).zip(&message.field) {
                check(vec![MESSAGE, m, MESSAGE_FIELD, f], format!("{}.{}", message.name(), field.name()));
            }
            for (o, oneof) in (0..).zip(&message.oneof_decl) {
                // proto3 `optional` fields get a synthetic oneof that has no source of its own.
                if !oneof.name().starts_with('_') {
                    check(vec![MESSAGE, m, MESSAGE_ONEOF, o], format!("{}.{}", message.name(), oneof.name()));
                }
            }
            assert!(message.nested_type.is_empty() && message.enum_type.is_empty(), "flat messages only");
        }
        for (e, enumeration) in (0..).zip(&file.enum_type) {
            check(vec![ENUM, e], enumeration.name().to_owned());
            for (v, value) in (0..).zip(&enumeration.value) {
                check(vec![ENUM, e, ENUM_VALUE, v], value.name().to_owned());
            }
        }
        for (s, service) in (0..).zip(&file.service) {
            check(vec![SERVICE, s], service.name().to_owned());
            for (r, method) in (0..).zip(&service.method) {
                check(vec![SERVICE, s, SERVICE_METHOD, r], format!("{}.{}", service.name(), method.name()));
            }
        }
    }
    assert!(undocumented.is_empty(), "undocumented declarations:\n{}", undocumented.join("\n"));
}
