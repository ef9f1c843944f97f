//! The files in `deploy/` that no stack runs here, checked statically: the
//! AWS security groups (`deploy/aws/`, as an AWS CLI script and as
//! Terraform) say exactly what the stack's own rules say, the rules phase 6
//! enforces with nftables; and the S3 bucket policy refuses requests made
//! without TLS.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use million::stack::network::{Network, security_groups};
use million::stack::plan::Plan;

fn deploy(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/aws")
        .join(file)
}

type Groups = BTreeSet<(String, u16, String)>;

/// The stack's own rules for phase 6, by group.
fn stack_groups() -> Groups {
    let project = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let plan = Plan::standard(6, project, PathBuf::from(env!("CARGO_BIN_EXE_million")))
        .unwrap()
        .in_network(Network::for_state_dir(Path::new("/nonexistent")));
    security_groups(&plan)
}

#[test]
fn the_aws_cli_script_opens_exactly_what_the_stack_does() {
    let script = deploy("security-groups.sh");
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    let text = std::fs::read_to_string(&script).unwrap();
    let opened: Groups = text
        .lines()
        .filter_map(|line| {
            let mut words = line.strip_prefix("allow ")?.split_whitespace();
            Some((
                words.next()?.to_string(),
                words.next()?.parse().ok()?,
                words.next()?.to_string(),
            ))
        })
        .collect();
    assert_eq!(opened, stack_groups());
}

#[test]
fn the_terraform_opens_exactly_what_the_stack_does_and_the_bucket_wants_tls() {
    let text = std::fs::read_to_string(deploy("main.tf")).unwrap();
    let body = hcl::parse(&text).expect("main.tf is valid HCL");
    let group = |expression: &str| -> Option<String> {
        let name = expression.strip_prefix("aws_security_group.")?;
        Some(name.strip_suffix(".id")?.to_string())
    };
    let mut opened = Groups::new();
    let mut policies = Vec::new();
    for block in body
        .blocks()
        .filter(|block| block.identifier() == "resource")
    {
        let kind = block.labels()[0].as_str();
        let attribute = |name: &str| {
            block
                .body()
                .attributes()
                .find(|attribute| attribute.key() == name)
                .map(|attribute| attribute.expr().to_string())
        };
        if kind == "aws_s3_bucket_policy" {
            policies.push(attribute("policy").unwrap_or_default());
        }
        if kind != "aws_vpc_security_group_ingress_rule" {
            continue;
        }
        let to = attribute("security_group_id").and_then(|id| group(&id));
        let from_port: Option<u16> = attribute("from_port").and_then(|port| port.parse().ok());
        let to_port: Option<u16> = attribute("to_port").and_then(|port| port.parse().ok());
        assert_eq!(attribute("ip_protocol").as_deref(), Some("\"tcp\""));
        assert_eq!(from_port, to_port, "one port per rule");
        let from = match (
            attribute("referenced_security_group_id"),
            attribute("cidr_ipv4").as_deref(),
        ) {
            (Some(id), None) => group(&id),
            (None, Some("\"0.0.0.0/0\"")) => Some("anywhere".to_string()),
            (None, Some("var.admin_cidr")) => Some("admin".to_string()),
            other => panic!("a source neither a group, anywhere nor admin: {other:?}"),
        };
        opened.insert((to.unwrap(), from_port.unwrap(), from.unwrap()));
    }
    assert_eq!(opened, stack_groups());

    // The bucket policy comes from the JSON file, which denies any request
    // made without TLS.
    assert_eq!(policies.len(), 1);
    assert!(
        policies[0].contains("s3-bucket-policy.json"),
        "{}",
        policies[0]
    );
    let policy: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(deploy("s3-bucket-policy.json")).unwrap())
            .expect("the bucket policy is valid JSON");
    let statements = policy["Statement"].as_array().unwrap();
    assert!(statements.iter().any(|statement| {
        statement["Effect"] == "Deny"
            && statement["Principal"] == "*"
            && statement["Action"] == "s3:*"
            && statement["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    }));
}
