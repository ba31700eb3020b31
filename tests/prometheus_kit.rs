//! The Prometheus kit in packaging/prometheus: rules pass `promtool check rules`,
//! every alert has a summary, a description and a `promtool test rules` case, and
//! the scrape config passes `promtool check config`.

mod common;

use std::path::{Path, PathBuf};

use common::tool;

fn kit() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/prometheus")
}

fn promtool(args: &[&str]) -> String {
    let out = tool("promtool", "prometheus")
        .args(args)
        .current_dir(kit())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

/// `- alert: Name` lines of the rules file.
fn alert_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- alert: "))
        .map(|n| n.trim().to_owned())
        .collect()
}

#[test]
fn rules_pass_promtool_check_and_unit_tests() {
    let check = promtool(&["check", "rules", "souk-alerts.yml"]);
    assert!(check.contains("SUCCESS"), "{check}");
    let test = promtool(&["test", "rules", "souk-alerts.test.yml"]);
    assert!(test.contains("SUCCESS"), "{test}");
}

#[test]
fn every_alert_is_documented_and_tested() {
    let rules = std::fs::read_to_string(kit().join("souk-alerts.yml")).unwrap();
    let tests = std::fs::read_to_string(kit().join("souk-alerts.test.yml")).unwrap();
    let names = alert_names(&rules);
    assert!(names.len() >= 15, "{names:?}");
    for block in rules.split("- alert: ").skip(1) {
        let name = block.lines().next().unwrap().trim();
        let body: String = block
            .lines()
            .take_while(|l| !l.trim_start().starts_with("- alert"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(body.contains("summary:"), "{name} has no summary");
        assert!(body.contains("description:"), "{name} has no description");
        assert!(body.contains("severity:"), "{name} has no severity");
    }
    for name in &names {
        // A test that expects the alert to fire (an exp_labels entry under its name).
        let tested = tests.split("alertname: ").skip(1).any(|t| {
            t.starts_with(&format!("{name}\n"))
                && t.lines().nth(2).is_some_and(|l| l.contains("exp_labels"))
        });
        assert!(
            tested,
            "alert {name} has no firing test case in souk-alerts.test.yml"
        );
    }
}

#[test]
fn scrape_config_passes_promtool() {
    // check config wants the rule file and token file it names: point it at ours.
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("souk.token");
    std::fs::write(&token, "x").unwrap();
    let config = std::fs::read_to_string(kit().join("prometheus.yml"))
        .unwrap()
        .replace(
            "/usr/share/doc/souk/prometheus/souk-alerts.yml",
            &kit().join("souk-alerts.yml").display().to_string(),
        )
        .replace("/etc/prometheus/souk.token", &token.display().to_string());
    assert!(
        config.contains("bearer_token_file"),
        "the example uses the token"
    );
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, config).unwrap();
    let out = promtool(&["check", "config", file.to_str().unwrap()]);
    assert!(out.contains("SUCCESS"), "{out}");
}
