//! `spaceid bench` end to end with tiny numbers: it seeds, serves, drives every scenario
//! and reports; a second run reuses the data set. No timing is asserted.

use clap::Parser;
use spaceid::cli::{Cli, Command};

use crate::helpers::TestApp;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_runs_every_scenario_without_errors_and_reports_json() {
    let app = TestApp::spawn().await;
    let cli = Cli::try_parse_from([
        "spaceid",
        "--database-url",
        &app.database_url,
        "--bcrypt-cost",
        "4",
        "bench",
        "--users",
        "50",
        "--small-users",
        "10",
        "--duration",
        "1",
        "--warmup",
        "0",
        "--concurrency",
        "4",
        "--connections",
        "2",
        "--json",
    ])
    .expect("bench flags");
    let settings = cli.settings().expect("bench settings");
    let Command::Bench(args) = cli.command else {
        panic!("not the bench command");
    };
    let options = args.options().expect("bench options");
    let report = spaceid::testing::bench::run(app.ctx.clone(), &settings, &options)
        .await
        .expect("bench run");
    let json = report.to_json();

    assert_eq!(
        json["engine"],
        if app.database_url.starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        }
    );
    assert_eq!(json["target"], "in-process");
    assert_eq!(
        json["dataset"]["large_members"], 51,
        "50 members and the owner"
    );
    assert_eq!(json["dataset"]["small_members"], 11);
    assert_eq!(json["dataset"]["seeded"], 60);
    assert_eq!(json["load"]["concurrency"], 4);
    assert!(json["machine"]["cores"].as_u64().unwrap() >= 1);
    let scenarios = json["scenarios"].as_array().expect("scenarios");
    let keys: Vec<_> = scenarios
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "health",
            "profile-get",
            "list-small",
            "list-large",
            "list-small-filtered",
            "list-large-filtered",
            "find",
            "stat",
            "token-issue",
            "get-while-pw-change"
        ]
    );
    for scenario in scenarios {
        let key = &scenario["key"];
        assert!(
            scenario["calls"].as_u64().unwrap() > 0,
            "{key} made no calls"
        );
        assert_eq!(scenario["errors"], serde_json::json!({}), "{key} failed");
        for field in ["calls_per_sec", "elapsed_secs", "ratio_to_baseline"] {
            assert!(scenario[field].as_f64().unwrap() > 0.0, "{key}: {field}");
        }
        for percentile in ["p50", "p90", "p99", "max"] {
            assert!(
                scenario["latency_ms"][percentile].is_number(),
                "{key}: {percentile}"
            );
        }
        assert!(
            scenario["server_cpu_cores"].is_number(),
            "{key}: server CPU"
        );
        assert!(
            scenario["machine_cpu_cores"].is_number(),
            "{key}: machine CPU"
        );
        assert!(scenario["peak_rss_mib"].is_number(), "{key}: peak RSS");
        assert!(!scenario["description"].as_str().unwrap().is_empty());
    }
    assert_eq!(scenarios[0]["ratio_to_baseline"], 1.0);
    let by_key = |key: &str| {
        scenarios
            .iter()
            .find(|s| s["key"] == key)
            .unwrap_or_else(|| panic!("no {key}"))
    };
    let issue = by_key("token-issue");
    assert!(issue["bcrypt_capacity_per_sec"].as_f64().unwrap() > 0.0);
    assert!(issue["note"].as_str().unwrap().contains("bcrypt checks/s"));
    // Nine enabled members of the small workspace changed their passwords meanwhile.
    let busy = by_key("get-while-pw-change");
    assert!(
        busy["description"]
            .as_str()
            .unwrap()
            .contains("while 9 members")
    );
    let changes: u64 = busy["note"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(changes >= 9, "{changes} password changes");
    assert!(json["peak_rss_mib"].is_number());
    assert!(report.to_table().contains("list-large"));

    // A second run finds the data set and adds nothing.
    let options = spaceid::testing::bench::BenchOptions {
        scenarios: spaceid::testing::bench::Scenario::parse_list(Some("list-large")).unwrap(),
        ..options
    };
    let again = spaceid::testing::bench::run(app.ctx.clone(), &settings, &options)
        .await
        .expect("second bench run")
        .to_json();
    assert_eq!(again["dataset"]["seeded"], 0);
    assert_eq!(again["dataset"]["large_members"], 51);
    let keys: Vec<_> = again["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["health", "list-large"]);
}

#[test]
fn unknown_scenarios_are_refused_by_name() {
    let err = spaceid::testing::bench::Scenario::parse_list(Some("list-large,lst")).unwrap_err();
    assert!(err.to_string().contains("lst"), "{err}");
}
