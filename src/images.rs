//! Container images as names: the repository of an image, whether two images are one app's,
//! and whether a tag may be pushed again. Pure string facts, no registry is asked.

/// `registry.example.com/shop` of `registry.example.com/shop:2.0@sha256:...`.
pub fn repository(image: &str) -> &str {
    let image = image.split_once('@').map_or(image, |(name, _)| name);
    match image.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => name,
        _ => image,
    }
}

/// Whether two images are one app's: the same repository (a worker pinned to another tag of
/// the app's image is still the app), or siblings published together, in the same
/// repository path with the same version tag (`mastodon/mastodon-streaming:v4.6.3` beside
/// `mastodon/mastodon:v4.6.3`, GitLab's one image per component). A tag that is pushed
/// again (`latest`, none) says nothing about a version, and an image with no path (Docker
/// Hub's official `redis:7`) has no siblings.
pub fn same_app(a: &str, b: &str) -> bool {
    let (ra, rb) = (repository(a), repository(b));
    if ra == rb {
        return true;
    }
    let tag = |image: &str| {
        let image = image.split_once('@').map_or(image, |(name, _)| name);
        let last = image.rsplit('/').next().unwrap_or(image);
        last.split_once(':').map(|(_, t)| t.to_string())
    };
    let path = |repo: &str| repo.rsplit_once('/').map(|(p, _)| p.to_string());
    let versioned = tag(a).filter(|t| mutable_tag(a).is_none() && !t.is_empty());
    versioned.is_some() && versioned == tag(b) && path(ra).is_some() && path(ra) == path(rb)
}

/// The tag of an image that may be pushed again under the same name (`latest`, or none),
/// which a Job's name, made from its content, cannot see change.
pub fn mutable_tag(image: &str) -> Option<&str> {
    if image.contains('@') {
        return None;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => Some("latest (no tag)"),
        Some((_, "latest")) => Some("latest"),
        Some(_) => None,
    }
}

/// Database servers, by the last part of their repository: the images of the official
/// Docker Hub images and of Bitnami's charts, which is how a chart bundles its database.
const DATABASES: &[&str] = &[
    "postgres",
    "postgresql",
    "postgis",
    "timescaledb",
    "mysql",
    "mariadb",
    "percona-server",
    "mongo",
    "mongodb",
    "cockroach",
    "couchdb",
    "cassandra",
    "clickhouse-server",
    "clickhouse",
    "mssql-server",
];

/// Whether an image is a database server (`postgres:17`, `bitnami/postgresql:17.2.0`,
/// `docker.io/library/mysql:8`), so that a chart running it bundles its database.
pub fn database(image: &str) -> bool {
    let repo = repository(image);
    let last = repo.rsplit('/').next().unwrap_or(repo);
    DATABASES.contains(&last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_ignore_tags_and_digests_but_not_registry_ports() {
        for (image, repo) in [
            ("shop", "shop"),
            ("shop:2.0", "shop"),
            (
                "registry.example.com:5000/shop",
                "registry.example.com:5000/shop",
            ),
            (
                "registry.example.com:5000/shop:2.0",
                "registry.example.com:5000/shop",
            ),
            ("shop@sha256:abc", "shop"),
            ("shop:2.0@sha256:abc", "shop"),
        ] {
            assert_eq!(repository(image), repo, "{image}");
        }
    }

    #[test]
    fn siblings_share_a_path_and_a_version() {
        for (a, b, same) in [
            ("mastodon/mastodon:v4.6.3", "mastodon/mastodon:v4.6.2", true),
            (
                "mastodon/mastodon:v4.6.3",
                "mastodon/mastodon-streaming:v4.6.3",
                true,
            ),
            ("ghcr.io/a/cng/web:v18", "ghcr.io/a/cng/sidekiq:v18", true),
            (
                "mastodon/mastodon:v4.6.3",
                "mastodon/mastodon-streaming:v4.6.2",
                false,
            ),
            (
                "mastodon/mastodon:latest",
                "mastodon/streaming:latest",
                false,
            ),
            ("redis:7", "postgres:7", false),
            (
                "apache/airflow:3.0.2",
                "prometheus/statsd-exporter:3.0.2",
                false,
            ),
            ("bitnami/redis:7.4.1", "bitnami/postgresql:17.2.0", false),
        ] {
            assert_eq!(same_app(a, b), same, "{a} and {b}");
            assert_eq!(same_app(b, a), same, "{b} and {a}");
        }
    }

    #[test]
    fn only_latest_or_no_tag_is_mutable() {
        assert_eq!(mutable_tag("shop"), Some("latest (no tag)"));
        assert_eq!(mutable_tag("registry:5000/shop"), Some("latest (no tag)"));
        assert_eq!(mutable_tag("shop:latest"), Some("latest"));
        assert_eq!(mutable_tag("shop:2.0"), None);
        assert_eq!(mutable_tag("shop@sha256:abc"), None);
    }

    #[test]
    fn databases_are_known_by_the_last_part_of_their_repository() {
        for (image, database) in [
            ("postgres:17.2", true),
            ("docker.io/library/postgres:17.2@sha256:abc", true),
            ("bitnami/postgresql:17.2.0", true),
            ("registry.example.com:5000/mirror/mysql:8", true),
            ("mariadb", true),
            ("ghcr.io/example/shop:1.4.2", false),
            ("bitnami/redis:7.4.1", false),
            ("postgres-exporter:0.15", false),
            ("example/postgres-operator:1.0", false),
        ] {
            assert_eq!(super::database(image), database, "{image}");
        }
    }
}
