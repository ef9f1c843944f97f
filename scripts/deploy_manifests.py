"""The deploy files read as data, for scripts/check-deploy-files.

    python deploy_manifests.py agree
        Checks that deploy/k8s/ and docker-compose.prod.yml agree with each
        other and with the app: every variable they set is one the app reads
        (the `//!` headers of src/settings/*.rs list them), the names that
        tie objects together match (the CloudNativePG cluster's -rw and -ro
        Services and -app Secret, Services and their pods, the autoscaler
        and its Deployment), the rollout and shutdown timings fit, no secret
        is written into a file. Prints each disagreement; exits 1 if any.

    python deploy_manifests.py kube-test DIR APP_TAG INFRA_TAG DB_HOST REPLICA_HOST
        Writes into DIR the manifests `podman kube play` runs: redis.yaml,
        migrate.yaml (the migration Job's pod: Podman has no Jobs) and
        app.yaml, each the repository's own object with only its names
        prefixed `million-check-` (so nothing collides with anything else on
        the machine), its images' tags set, and the app's ConfigMap pointing
        at the test's PostgreSQL primary and replica instead of the
        cluster's Services.

Needs PyYAML (in .million/tools, with kubernetes-validate).
"""

import re
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
K8S = ROOT / "deploy" / "k8s"
COMPOSE = ROOT / "docker-compose.prod.yml"
SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN")


def k8s_objects():
    """Every object in deploy/k8s by (kind, name), with the file it is in."""
    objects = {}
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                objects[(doc["kind"], doc["metadata"]["name"])] = (path.name, doc)
    return objects


def known_variables():
    """The environment variables the app reads, as its settings modules list them."""
    text = "".join(path.read_text() for path in (ROOT / "src" / "settings").glob("*.rs"))
    return set(re.findall(r"\b(APP__[A-Z0-9_]+|APP_[A-Z_]+|DB_[A-Z]+|DATABASE_URL)\b", text))


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def container_env(container):
    """The container's variables: name → value, or ('secret', name, key) / ('field', path)."""
    env = {}
    for item in container.get("env", []):
        source = item.get("valueFrom")
        if source is None:
            env[item["name"]] = item.get("value", "")
        elif "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            env[item["name"]] = ("secret", ref["name"], ref["key"])
        elif "fieldRef" in source:
            env[item["name"]] = ("field", source["fieldRef"]["fieldPath"])
        else:
            env[item["name"]] = ("other",)
    return env


def agree():
    problems = []
    objects = k8s_objects()
    variables = known_variables()
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    base = tomllib.loads((ROOT / "config" / "base.toml").read_text())

    def need(condition, message):
        if not condition:
            problems.append(message)

    def get(kind, name):
        found = objects.get((kind, name))
        need(found is not None, f"deploy/k8s has no {kind} {name}")
        return found[1] if found else None

    # Every file is in the kustomization, and every resource it names exists.
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    listed = set(kustomization.get("resources", []))
    need(files == listed, f"kustomization.yaml resources {sorted(listed)} are not the files {sorted(files)}")

    config = get("ConfigMap", "million-app-config")
    app = get("Deployment", "million-app")
    job = get("Job", "million-migrate")
    cluster = [doc for (kind, _), (_, doc) in objects.items() if kind == "Cluster"]
    need(len(cluster) == 1, "deploy/k8s needs exactly one CloudNativePG Cluster")
    if not (config and app and job and cluster):
        return problems
    cluster = cluster[0]
    data = config["data"]

    # The CloudNativePG cluster: one primary and two replicas, and the names
    # the operator derives from the cluster's are the ones the app uses.
    name = cluster["metadata"]["name"]
    need(cluster["apiVersion"] == "postgresql.cnpg.io/v1", "the Cluster's apiVersion is not postgresql.cnpg.io/v1")
    need(cluster["spec"].get("instances") == 3, "the Cluster needs instances: 3 (a primary and two replicas)")
    initdb = cluster["spec"].get("bootstrap", {}).get("initdb", {})
    need(data.get("DB_HOST") == f"{name}-rw", f"DB_HOST must be the cluster's primary Service, {name}-rw")
    need(
        data.get("APP__REPLICAS__HOSTS") == f"{name}-ro:{data.get('DB_PORT', '5432')}",
        f"APP__REPLICAS__HOSTS must be the cluster's replicas Service, {name}-ro:5432",
    )
    need(initdb.get("database") == data.get("DB_NAME"), "the Cluster's initdb database is not DB_NAME")
    need(bool(initdb.get("owner")), "the Cluster's initdb needs an owner (it makes the -app Secret)")

    # The app and the migration: settings the app knows, the required
    # secrets from Secrets, the database account from the cluster's Secret.
    for variable in data:
        need(variable in variables, f"ConfigMap sets {variable}, which the app does not read")
    need(data.get("APP_ENVIRONMENT") == "production", "APP_ENVIRONMENT must be production")
    need(data.get("APP__SESSION__STORE") == "cookie", "several pods need APP__SESSION__STORE=cookie")
    for obj in (app, job):
        what = f"{obj['kind']} {obj['metadata']['name']}"
        spec = pod_spec(obj)
        need(spec.get("securityContext", {}).get("runAsNonRoot") is True, f"{what} must run as non-root")
        for container in spec["containers"]:
            env = container_env(container)
            for variable, value in env.items():
                need(variable in variables, f"{what} sets {variable}, which the app does not read")
                if any(word in variable for word in SECRET_WORDS):
                    need(isinstance(value, tuple) and value[0] == "secret", f"{what}: {variable} must come from a Secret")
            need(env.get("DB_USER") == ("secret", f"{name}-app", "username"), f"{what}: DB_USER must be {name}-app's username")
            need(env.get("DB_PASSWORD") == ("secret", f"{name}-app", "password"), f"{what}: DB_PASSWORD must be {name}-app's password")
            for variable in ("APP__AUTH__JWT_SECRET", "APP__SESSION__SECRET"):
                need(variable in env, f"{what} lacks {variable}: production refuses to start without it")
            refs = [ref["configMapRef"]["name"] for ref in container.get("envFrom", []) if "configMapRef" in ref]
            need(refs == ["million-app-config"], f"{what} must take its settings from million-app-config")
            security = container.get("securityContext", {})
            need(security.get("readOnlyRootFilesystem") is True, f"{what}: the root filesystem should be read-only")
            need(security.get("allowPrivilegeEscalation") is False, f"{what}: allowPrivilegeEscalation should be false")

    # Rollout: no fewer ready pods than before, readiness and liveness on
    # the right probes, and time enough to stop gracefully.
    spec = pod_spec(app)
    container = spec["containers"][0]
    rolling = app["spec"].get("strategy", {}).get("rollingUpdate", {})
    need(rolling.get("maxUnavailable") == 0, "the Deployment's rollingUpdate needs maxUnavailable: 0")
    need(container.get("readinessProbe", {}).get("httpGet", {}).get("path") == "/readyz", "readiness must ask /readyz")
    need(container.get("livenessProbe", {}).get("httpGet", {}).get("path") == "/healthz", "liveness must ask /healthz")
    pre_stop = " ".join(container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", []))
    pause = re.search(r"sleep (\d+)", pre_stop)
    need(pause is not None, "the app container needs a preStop pause (sleep N)")
    shutdown = base["application"]["shutdown_timeout_secs"]
    if pause:
        need(
            spec.get("terminationGracePeriodSeconds", 30) > int(pause.group(1)) + shutdown,
            f"terminationGracePeriodSeconds must exceed the preStop pause plus the {shutdown} s shutdown",
        )
    labels = app["spec"]["template"]["metadata"]["labels"]
    need(app["spec"]["selector"]["matchLabels"].items() <= labels.items(), "the Deployment's selector misses its pods")
    ports = {port["name"]: port["containerPort"] for port in container.get("ports", [])}

    service = get("Service", "million-app")
    if service:
        need(service["spec"]["selector"].items() <= labels.items(), "Service million-app selects no app pod")
        for port in service["spec"]["ports"]:
            need(port["targetPort"] in ports or port["targetPort"] in ports.values(), "Service million-app targets no container port")
    ingress = get("Ingress", "million")
    if ingress:
        need(bool(ingress["spec"].get("tls")), "the Ingress needs TLS")
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                need(path["backend"]["service"]["name"] == "million-app", "the Ingress routes to another Service")
    hpa = get("HorizontalPodAutoscaler", "million-app")
    if hpa:
        need(hpa["apiVersion"] == "autoscaling/v2", "the autoscaler must be autoscaling/v2")
        need(hpa["spec"]["scaleTargetRef"]["name"] == "million-app", "the autoscaler scales another Deployment")
        need("replicas" not in app["spec"], "with an autoscaler the Deployment must not set replicas (a re-apply resets them)")
        pool = int(data.get("APP__DATABASE__POOL_SIZE", "32"))
        connections = int(cluster["spec"].get("postgresql", {}).get("parameters", {}).get("max_connections", "100"))
        need(
            hpa["spec"]["maxReplicas"] * pool < connections,
            f"maxReplicas × APP__DATABASE__POOL_SIZE ({hpa['spec']['maxReplicas']} × {pool}) must stay under max_connections ({connections})",
        )
    pdb = get("PodDisruptionBudget", "million-app")
    if pdb:
        need(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), "the PodDisruptionBudget selects no app pod")

    redis = get("Deployment", "million-redis")
    redis_service = get("Service", "million-redis")
    if redis and redis_service:
        redis_labels = redis["spec"]["template"]["metadata"]["labels"]
        need(redis_service["spec"]["selector"].items() <= redis_labels.items(), "Service million-redis selects no Redis pod")
        env = container_env(pod_spec(redis)["containers"][0])
        need(isinstance(env.get("REDIS_PASSWORD"), tuple), "Redis's password must come from a Secret")

    problems.extend(compose_agrees(variables))
    return problems


def compose_agrees(variables):
    """docker-compose.prod.yml: secrets only from the environment, health
    checks everywhere, the app servers under the name HAProxy looks up."""
    problems = []
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    for name, service in services.items():
        env = service.get("environment", {})
        for variable, value in env.items():
            value = str(value)
            if any(word in variable for word in SECRET_WORDS) or "@" in value:
                if re.search(r"\$\{MILLION_[A-Z_]+:\?", value) is None:
                    problems.append(f"compose: {name}'s {variable} must be ${{MILLION_…:?…}}, never a literal")
        if name.startswith("app-") or name == "migrate":
            for variable in env:
                if variable.startswith(("APP_", "DB_")) and variable not in variables:
                    problems.append(f"compose: {name} sets {variable}, which the app does not read")
        if name != "migrate" and "healthcheck" not in service:
            problems.append(f"compose: {name} has no health check")
        if name.startswith("app-"):
            aliases = service.get("networks", {}).get("default", {}).get("aliases", [])
            if "app" not in aliases:
                problems.append(f"compose: {name} does not answer to `app`, the name HAProxy looks up")
    apps = [name for name in services if name.startswith("app-")]
    if len(apps) < 2:
        problems.append("compose: needs at least two app servers")
    replicas = [name for name, service in services.items() if "REPLICATE_FROM" in service.get("environment", {})]
    if len(replicas) != 2:
        problems.append(f"compose: needs two streaming replicas, has {len(replicas)}")
    return problems


PREFIX = "million-check-"
RENAMED = ("million-app", "million-redis", "million-migrate", "million-app-config", "million-db-app", "million-secrets")


def renamed(node):
    """The object with every reference (`name:`) to one of ours prefixed."""
    if isinstance(node, dict):
        return {
            key: (PREFIX + value.removeprefix("million-") if key == "name" and value in RENAMED else renamed(value))
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [renamed(item) for item in node]
    return node


def retagged(obj, tags):
    for container in pod_spec(obj)["containers"]:
        image = container["image"].rsplit(":", 1)[0]
        container["image"] = f"{image}:{tags[image]}"
    return obj


def kube_test(out, app_tag, infra_tag, db_host, replica_host):
    out = Path(out)
    objects = k8s_objects()
    tags = {"million-app": app_tag, "million-redis": infra_tag}
    config = renamed(objects[("ConfigMap", "million-app-config")][1])
    config["data"]["DB_HOST"] = db_host
    config["data"]["APP__REPLICAS__HOSTS"] = f"{replica_host}:5432"
    redis = retagged(renamed(objects[("Deployment", "million-redis")][1]), tags)
    app = retagged(renamed(objects[("Deployment", "million-app")][1]), tags)
    job = retagged(renamed(objects[("Job", "million-migrate")][1]), tags)
    migrate = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": job["metadata"]["name"], "labels": job["spec"]["template"]["metadata"]["labels"]},
        "spec": job["spec"]["template"]["spec"],
    }
    (out / "redis.yaml").write_text(yaml.safe_dump(redis, sort_keys=False))
    (out / "migrate.yaml").write_text(yaml.safe_dump_all([config, migrate], sort_keys=False))
    (out / "app.yaml").write_text(yaml.safe_dump_all([config, app], sort_keys=False))


def main(argv):
    if argv[:1] == ["agree"]:
        problems = agree()
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1 if problems else 0
    if argv[:1] == ["kube-test"] and len(argv) == 6:
        kube_test(*argv[1:])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
