//! Writes a realistic rendered manifest stream for benchmarks: Deployments with several
//! containers, env lists and volumes; Services; ConfigMaps with block scalars; Secrets;
//! ServiceAccounts; deeply nested custom resources; and a DeployJobs document whose jobs
//! reuse a few of the workloads. Deterministic from the seed.
//!
//!   cargo run --release --example corpus -- --bytes 10000000 --style helm4 --seed 7 > s.yaml

use std::fmt::Write as _;
use std::io::Write as _;

/// xorshift64*: small, deterministic, good enough to vary a corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn word(&mut self) -> &'static str {
        const WORDS: &[&str] = &[
            "alpha", "bravo", "cache", "delta", "edge", "fleet", "gamma", "hub", "ingest", "jobs",
            "kappa", "ledger", "mesh", "node", "orders", "payments", "queue", "relay", "search",
            "tally", "users", "vault", "worker", "xray", "yield", "zone",
        ];
        WORDS[self.below(WORDS.len() as u64) as usize]
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    Helm3,
    Helm4,
}

struct Writer {
    style: Style,
    chart: &'static str,
    out: String,
    first: bool,
}

impl Writer {
    /// Starts a document from `template`; `{meta}` marks where metadata extras go.
    fn doc(&mut self, file: &str, body: &str) {
        match self.style {
            Style::Helm3 => {
                let _ = write!(self.out, "---\n# Source: {}/templates/{file}\n", self.chart);
                self.out.push_str(&body.replace("{meta}", ""));
            }
            Style::Helm4 => {
                if !self.first {
                    self.out.push_str("---\n");
                }
                let meta = format!(
                    "  annotations:\n    postrenderer.helm.sh/postrender-filename: '{}/templates/{file}'\n",
                    self.chart
                );
                self.out.push_str(&body.replace("{meta}", &meta));
            }
        }
        self.first = false;
    }
}

fn labels(indent: &str, app: &str) -> String {
    format!(
        "{indent}app.kubernetes.io/name: {app}\n{indent}app.kubernetes.io/instance: shop\n{indent}app.kubernetes.io/managed-by: Helm\n{indent}helm.sh/chart: shop-1.0.0\n"
    )
}

fn deployment(rng: &mut Rng, i: usize) -> String {
    let app = format!("{}-{i}", rng.word());
    let mut s = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\n  labels:\n{}{{meta}}spec:\n  replicas: {}\n  selector:\n    matchLabels:\n      app.kubernetes.io/name: {app}\n      app.kubernetes.io/instance: shop\n  template:\n    metadata:\n      labels:\n{}      annotations:\n        checksum/config: {:016x}{:016x}\n    spec:\n      serviceAccountName: {app}\n      securityContext:\n        runAsNonRoot: true\n        fsGroup: 2000\n      containers:\n",
        labels("    ", &app),
        1 + rng.below(5),
        labels("        ", &app),
        rng.next(),
        rng.next()
    );
    let containers = 1 + rng.below(3);
    for c in 0..containers {
        let name = if c == 0 {
            "app".to_string()
        } else {
            format!("{}-{c}", rng.word())
        };
        let _ = write!(
            s,
            "      - name: {name}\n        image: \"registry.example.com/{app}:{}.{}.{}\"\n        imagePullPolicy: IfNotPresent\n        args:\n        - --port=8080\n        - --log-level=info\n        ports:\n        - name: http\n          containerPort: 8080\n          protocol: TCP\n        env:\n",
            rng.below(5),
            rng.below(20),
            rng.below(100)
        );
        for e in 0..(4 + rng.below(12)) {
            let _ = write!(
                s,
                "        - name: {}_{e}\n          value: \"{}-{}\"\n",
                rng.word().to_uppercase(),
                rng.word(),
                rng.next() % 10_000
            );
        }
        let _ = write!(
            s,
            "        - name: DB_PASSWORD\n          valueFrom:\n            secretKeyRef:\n              name: {app}-db\n              key: password\n        envFrom:\n        - configMapRef:\n            name: {app}-config\n        readinessProbe:\n          httpGet:\n            path: /healthz\n            port: http\n          periodSeconds: 10\n        resources:\n          requests:\n            cpu: 100m\n            memory: 128Mi\n          limits:\n            memory: 256Mi\n        volumeMounts:\n        - name: config\n          mountPath: /etc/{app}\n          readOnly: true\n        - name: data\n          mountPath: /var/lib/{app}\n"
        );
    }
    let _ = write!(
        s,
        "      volumes:\n      - name: config\n        configMap:\n          name: {app}-config\n      - name: data\n        persistentVolumeClaim:\n          claimName: {app}-data\n"
    );
    s
}

fn service(i: usize, app: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {app}-{i}\n  labels:\n{}{{meta}}spec:\n  type: ClusterIP\n  selector:\n    app.kubernetes.io/name: {app}-{i}\n    app.kubernetes.io/instance: shop\n  ports:\n  - name: http\n    port: 80\n    targetPort: http\n",
        labels("    ", app)
    )
}

fn configmap(rng: &mut Rng, app: &str) -> String {
    let mut s = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}-config\n  labels:\n{}{{meta}}data:\n  settings.yaml: |\n",
        labels("    ", app)
    );
    for _ in 0..(10 + rng.below(40)) {
        let _ = writeln!(
            s,
            "    {}: \"{}-{}\"",
            rng.word(),
            rng.word(),
            rng.next() % 1000
        );
    }
    s.push_str("    ---\n    separator: inside a block scalar, not a document\n");
    let _ = writeln!(s, "  log-level: info\n  feature-{}: \"true\"", rng.word());
    s
}

fn secret(rng: &mut Rng, app: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {app}-db\n  labels:\n{}{{meta}}type: Opaque\ndata:\n  password: {:016x}{:016x}\n  username: c2hvcA==\n",
        labels("    ", app),
        rng.next(),
        rng.next()
    )
}

fn service_account(app: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {app}\n  labels:\n{}{{meta}}automountServiceAccountToken: false\n",
        labels("    ", app)
    )
}

fn custom_resource(rng: &mut Rng, i: usize) -> String {
    let mut s = format!(
        "apiVersion: monitoring.example.com/v1\nkind: AlertPolicy\nmetadata:\n  name: policy-{i}\n  labels:\n{}{{meta}}spec:\n",
        labels("    ", "alerts")
    );
    let depth = 6 + rng.below(10) as usize;
    for d in 0..depth {
        let _ = writeln!(s, "{}level{d}:", "  ".repeat(d + 1));
        let _ = writeln!(s, "{}name: {}", "  ".repeat(d + 2), rng.word());
    }
    let _ = writeln!(s, "{}rules:", "  ".repeat(depth + 1));
    for _ in 0..3 {
        let _ = writeln!(
            s,
            "{}- {{expr: \"rate(http_requests_total[5m]) > {}\", for: 5m}}",
            "  ".repeat(depth + 1),
            rng.below(100)
        );
    }
    s
}

fn main() {
    let mut bytes: usize = 1_000_000;
    let mut style = Style::Helm3;
    let mut seed: u64 = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--bytes" => bytes = value.parse().expect("--bytes takes a number"),
            "--style" => {
                style = match value.as_str() {
                    "helm3" => Style::Helm3,
                    "helm4" => Style::Helm4,
                    _ => panic!("--style is helm3 or helm4"),
                }
            }
            "--seed" => seed = value.parse().expect("--seed takes a number"),
            _ => panic!("usage: corpus [--bytes N] [--style helm3|helm4] [--seed N]"),
        }
    }
    let mut rng = Rng(seed.max(1));
    let mut w = Writer {
        style,
        chart: "shop",
        out: String::with_capacity(bytes + 100_000),
        first: true,
    };
    let mut i = 0;
    let mut apps = Vec::new();
    while w.out.len() < bytes {
        let d = deployment(&mut rng, i);
        let app = d
            .lines()
            .nth(3)
            .and_then(|l| l.strip_prefix("  name: "))
            .expect("deployment name")
            .to_string();
        w.doc(
            &format!("{app}/serviceaccount.yaml"),
            &service_account(&app),
        );
        w.doc(&format!("{app}/secret.yaml"), &secret(&mut rng, &app));
        w.doc(&format!("{app}/configmap.yaml"), &configmap(&mut rng, &app));
        w.doc(&format!("{app}/service.yaml"), &service(i, &app));
        w.doc(&format!("{app}/deployment.yaml"), &d);
        w.doc(
            &format!("alerts/policy-{i}.yaml"),
            &custom_resource(&mut rng, i),
        );
        apps.push(app);
        i += 1;
    }
    // A config that touches a few workloads: a migration in the first app, a post-upgrade
    // job in the middle one, and a standalone job.
    let first = &apps[0];
    let middle = &apps[apps.len() / 2];
    let config = format!(
        "apiVersion: deploy-jobs/v1\nkind: DeployJobs\nmetadata:\n  name: shop\n{{meta}}environment: production\ndeploy_jobs:\n- name: migrate\n  container: app\n  workload: Deployment/{first}\n  command: [\"/app/bin\", \"migrate\"]\n  waitFor: [\"postgres:5432\"]\n- name: reindex\n  container: app\n  workload: Deployment/{middle}\n  command: /app/bin reindex --all\n  when: {{production: post-upgrade}}\n- name: notify\n  image: curlimages/curl:8.10.1\n  args: [\"-fsS\", \"http://hooks.example.com/deployed\"]\n  when: post-install,post-upgrade\n"
    );
    w.doc("deploy-jobs.yaml", &config);
    std::io::stdout()
        .write_all(w.out.as_bytes())
        .expect("writing the corpus");
}
