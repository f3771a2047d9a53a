//! The pm2 example (`examples/pm2/deploy.sh`): a healthy release kept, an
//! unhealthy one replaced by its backup.

use super::*;

/// Stops the test's pm2 daemon (its own PM2_HOME) whatever the outcome.
struct Pm2 {
    bin: PathBuf,
    home: PathBuf,
}

impl Drop for Pm2 {
    fn drop(&mut self) {
        // The daemon's and the app's pids, read before `pm2 kill` removes
        // them: what it leaves running is stopped by pid (a stray app would
        // hold REPORT_SITE_PORT for the next run).
        let mut pids: Vec<String> = std::fs::read_to_string(self.home.join("pm2.pid"))
            .into_iter()
            .collect();
        if let Ok(dir) = std::fs::read_dir(self.home.join("pids")) {
            pids.extend(
                dir.flatten()
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok()),
            );
        }
        let _ = Command::new(&self.bin)
            .arg("kill")
            .env("PM2_HOME", &self.home)
            .output();
        for pid in pids.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
            let _ = Command::new("kill").args(["-9", pid]).output();
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// One run of the example's deploy script: `build` is its build command.
fn deploy(app: &Path, pm2: &Pm2, service: &str, commit: &str, build: &str) -> Output {
    let port = env("REPORT_SITE_PORT");
    let origin = format!("http://127.0.0.1:{port}");
    Command::new("bash")
        .arg(root().join("examples/pm2/deploy.sh"))
        .env("SERVICE", service)
        .env("SITE_URL", format!("{origin}/"))
        .env("SENTINEL_SITE_ORIGINS", &origin)
        .env("APP_DIR", app)
        .env("BUILD_CMD", build)
        .env("BUILD_OUTPUT", "build")
        .env("COMMIT", commit)
        .env("PORT", &port)
        .env("INSTANCES", "1")
        .env("WAIT_TIMEOUT", "120")
        .env("PM2", &pm2.bin)
        .env("PM2_HOME", &pm2.home)
        .env("SENTINEL", sentinel_bin())
        .env_remove("SENTINEL_DEPLOY_ID")
        .env_remove("GITHUB_RUN_ID")
        .output()
        .expect("bash")
}

/// What the deploy script printed: its stdout, then its stderr.
fn output_log(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn release_build(name: &str, commit: &str, status: u16) -> String {
    format!(
        "mkdir -p build && printf '%s' '<html>{name} {commit}</html>' > build/index.html && echo {status} > build/status"
    )
}

async fn served() -> Result<(u16, String)> {
    let url = format!("http://127.0.0.1:{}/", env("REPORT_SITE_PORT"));
    // No pooled connection: a reload closes the old worker's.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let res = http.get(&url).send().await.context("the site")?;
    Ok((res.status().as_u16(), res.text().await?))
}

fn deploy_id_of(out: &Output) -> u64 {
    let stderr = String::from_utf8_lossy(&out.stderr);
    stderr
        .lines()
        .find_map(|l| l.split("deploy id ").nth(1))
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no deploy id in:\n{stderr}"))
}

#[tokio::test]
async fn the_pm2_example_keeps_a_healthy_release_and_restores_its_backup_when_unhealthy()
-> Result<()> {
    let stack = Stack::new().await;
    let pm2_bin = root().join(".tools/node_modules/.bin/pm2");
    assert!(
        pm2_bin.exists(),
        "{} is missing: run scripts/bootstrap.sh",
        pm2_bin.display()
    );
    let work = std::env::temp_dir().join(format!("sentinel-pm2-{}", unique_app_id()));
    let app = work.join("app");
    let pm2 = Pm2 {
        bin: pm2_bin,
        home: work.join("pm2"),
    };
    let service = unique_service();
    let rollbacks = stack
        .capture(&stack.bus, json!({"appId": [format!("svc:{service}")]}))
        .await?;

    // The service's own policy (as for an app: `policy push --app svc:…`),
    // tight, so that its checks never hold the shared local health checker
    // long (a site gone after the test is not judged for 5 minutes).
    let policy = work.join("policy.yaml");
    write(
        &policy,
        "version: 1\nhealth:\n  deadline_ms: 30000\n  round_interval_ms: 500\n  version_grace_ms: 5000\n",
    );
    let pushed = sentinel(&[
        "policy",
        "push",
        policy.to_str().unwrap(),
        "--app",
        &format!("svc:{service}"),
    ]);
    assert!(pushed.status.success(), "{pushed:?}");

    // The release running before: started by hand, as on the server.
    write(&app.join("build/index.html"), "<html>release one</html>");
    let started = Command::new(&pm2.bin)
        .args([
            "start",
            root()
                .join("examples/pm2/ecosystem.config.js")
                .to_str()
                .unwrap(),
        ])
        .env("PM2_HOME", &pm2.home)
        .env("APP_DIR", &app)
        .env("BUILD_OUTPUT", "build")
        .env("SERVICE", &service)
        .env("PORT", env("REPORT_SITE_PORT"))
        .env("INSTANCES", "1")
        .output()?;
    assert!(started.status.success(), "{started:?}");
    eventually(Duration::from_secs(20), "release one served", || async {
        Ok(served().await.ok().filter(|(s, _)| *s == 200))
    })
    .await?;

    // Deploys release `n` (named `name`) whose site answers `status`.
    let release = |name: &str, n: u8, status: u16| {
        let commit = commit(n);
        let out = deploy(
            &app,
            &pm2,
            &service,
            &commit,
            &release_build(name, &commit, status),
        );
        let log = output_log(&out);
        (out, log)
    };

    // Release two is what the site serves.
    let serves_release_two = || async {
        let (status, body) = served().await?;
        assert_eq!(
            (status, body.contains("release two")),
            (200, true),
            "{body}"
        );
        anyhow::Ok(())
    };

    // A healthy release: kept, and Sentinel's verdict is Healthy.
    let (out, log) = release("release two", 2, 200);
    assert_eq!(out.status.code(), Some(0), "{log}");
    serves_release_two().await?;
    let d = record(&stack, &service, deploy_id_of(&out))
        .await?
        .context("release two")?;
    assert_eq!(d.health.as_ref().map(|h| h.verdict), Some(Verdict::Healthy));

    // An unhealthy release: `sentinel report --wait` exits 1 and the script
    // restores its backup of release two, and reloads it.
    let (out, log) = release("release three", 3, 500);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(log.contains("previous release restored"), "{log}");
    let restored = std::fs::read_to_string(app.join("build/index.html"))?;
    assert!(restored.contains("release two"), "{restored}");
    assert!(
        !app.join("build/status").exists()
            || std::fs::read_to_string(app.join("build/status"))?.trim() == "200"
    );
    serves_release_two().await?;
    let d = record(&stack, &service, deploy_id_of(&out))
        .await?
        .context("release three")?;
    assert_eq!(d.status, BuildStatus::Succeeded);
    assert_eq!(
        d.health.as_ref().map(|h| h.verdict),
        Some(Verdict::Unhealthy)
    );
    // Sentinel cannot roll a PM2 server back: it recommends, once.
    let events = rollbacks
        .collect(1, Duration::from_secs(60), Duration::from_secs(3))
        .await?;
    let recommended: Vec<_> = events
        .iter()
        .filter(|e| e["detail-type"] == "Rollback Recommended")
        .collect();
    assert_eq!(recommended.len(), 1, "{events:#?}");
    assert!(
        recommended[0]["detail"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot roll back a reported service"),
        "{:#}",
        recommended[0]
    );

    // A build that fails: reported with its log's diagnosis, never the log.
    let four = commit(4);
    let failing = "echo 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory'; \
                   echo 'NPM_TOKEN=npm_abcdefghijklmnopqrstuvwxyz0123456789'; exit 134";
    let out = deploy(&app, &pm2, &service, &four, failing);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let id = deploy_id_of(&out);
    let d = eventually(Duration::from_secs(60), "the failure recorded", || async {
        Ok(record(&stack, &service, id)
            .await?
            .filter(|d| d.status == BuildStatus::Failed))
    })
    .await?;
    let diagnosis = d.diagnosis.context("the sent diagnosis")?;
    assert_eq!(diagnosis.category, "node-heap-oom", "{diagnosis:?}");
    let stored = serde_json::to_string(&diagnosis)?;
    assert!(
        !stored.contains("npm_abcdefghijklmnopqrstuvwxyz0123456789"),
        "{stored}"
    );
    let (_, body) = served().await?;
    assert!(body.contains("release two"), "{body}");
    drop(pm2);
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
