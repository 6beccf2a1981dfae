#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The Kubernetes deployment (deploy/kubernetes/): the kustomize base rendered as
`kubectl kustomize` renders it, and its objects checked against each other, against the
configuration file they carry and against the Containerfile that builds their image.

No cluster is needed (or contacted): `kubectl kustomize DIR` renders the base, and
`kubectl patch --local -p {} -o json` (an empty patch, applied locally) turns the rendered
YAML into JSON with kubectl's own parser, so the test needs nothing beyond kubectl and the
Python standard library. Without kubectl on the PATH (or in $KUBECTL) it exits 77, which
meson reports as skipped; a kubectl that fails to render the base fails the test.

What is checked, each problem reported with the object (Kind/name) it is in:
- objects: the StatefulSet testrund-worker (Parallel, serviceName testrund-workers), the
  Deployment testrund-coordinator (1 replica, Recreate), the Services testrund-workers and
  testrund, the ConfigMap testrund-config and the Secret testrund-tokens are there;
- labels: every object has app.kubernetes.io/name=testrund; every workload, its pods and
  every Service have app.kubernetes.io/component worker or coordinator, the same on a
  workload and its pods;
- namespace: the source files name no namespace, and every rendered object is in the one
  namespace the kustomization sets;
- selectors: every Deployment/StatefulSet selector (and pod anti-affinity selector) selects
  its own pod template and no other workload's; every Service selects exactly the intended
  workload's pods (testrund-workers the workers, testrund the coordinator);
- the StatefulSet's serviceName is a headless Service (clusterIP None) that does not publish
  unready pods and whose port is the pods' port (clients connect to pod addresses);
- ports: each container's listeners are taken from the mounted testrund.conf (its `listen`
  lines, with `--listen` flags overriding them as the daemon does) and must not be loopback
  only; the container declares each listen port; the readiness and liveness probes are
  `GET /health` on a declared port that is a listen port; every Service targetPort
  resolves, in every pod it selects, to that same port;
- configuration: `--config PATH` is a file of the ConfigMap testrund-config, mounted
  read-only, and the ConfigMap has that key;
- the coordinator: `--coordinator`, and `--workers` is one entry
  `<headless service>.<namespace>.svc.cluster.local:<worker listen port>`, the namespace
  either the rendered one or $(VAR) with VAR from the downward API's metadata.namespace;
  `--worker-token` is a variable from the same Secret key that the workers accept as
  operator;
- secrets: reach the containers only as env valueFrom.secretKeyRef (no envFrom secretRef,
  no secret or projected-secret volumes), naming a Secret and key that exist; no secret
  value appears literally in a command, argument or env value; every $(VAR) in a command
  or argument is defined in the container's env (Kubernetes leaves an undefined one as
  text); every --token is $(VAR):operator or $(VAR):observer;
- security: every container and initContainer runs with runAsNonRoot true, a runAsUser
  other than 0, readOnlyRootFilesystem true, allowPrivilegeEscalation false, not
  privileged, all capabilities dropped and the RuntimeDefault seccomp profile (container
  settings falling back to the pod's, as Kubernetes does); no pod mounts a service account
  token or uses the host's network, PID or IPC namespaces;
- resources: every container requests and limits CPU and memory, requests <= limits;
- image: every container runs the same image, `testrund:VERSION` (meson.build's version);
- Containerfile: FROM debian:12-slim, its USER is the pods' runAsUser:runAsGroup, its
  ENTRYPOINT the containers' command, its EXPOSE the listen port, and its CMD's --config
  path the manifests' one.

Usage: kubernetes_test.py deploy/kubernetes   (TESTRUND_VERSION from the environment)
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest

SKIP = 77  # meson's "skipped"
TIMEOUT = 30
NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
# Which workload's pods each Service must select, and only those.
SERVICE_TARGETS = {
    "testrund-workers": "StatefulSet/testrund-worker",
    "testrund": "Deployment/testrund-coordinator",
}
WORKER = "StatefulSet/testrund-worker"
COORDINATOR = "Deployment/testrund-coordinator"
CONFIG_MAP = "testrund-config"
DEFAULT_LISTEN = ["127.0.0.1:9009"]  # the daemon's default (docs/configuration.md)
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")
CLUSTER_SCOPED = ("Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume",
                  "StorageClass", "CustomResourceDefinition", "PriorityClass")
VARIABLE = re.compile(r"(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")

BASE = None       # the kustomize directory (argv)
KUBECTL = None
VERSION = os.environ.get("TESTRUND_VERSION", "")


# --------------------------------------------------------------------------------------------
# Rendering


def kubectl(args, stdin=None):
    """Runs kubectl without any cluster configuration; returns its standard output."""
    env = dict(os.environ, KUBECONFIG=os.devnull)
    argv = [KUBECTL] + args
    try:
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=TIMEOUT, env=env)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"cannot run {shlex.join(argv)}: {e}") from None
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(argv)} exited with status {proc.returncode}:\n"
                           f"{proc.stderr.strip()}")
    return proc.stdout


def to_objects(yaml_text):
    """The objects of a YAML stream, parsed by kubectl: an empty merge patch applied
    locally prints each object as JSON, unchanged."""
    if not yaml_text.strip():
        return []
    text = kubectl(["patch", "--local", "-f", "-", "--type", "merge", "-p", "{}",
                    "-o", "json"], stdin=yaml_text)
    decoder, objects, i = json.JSONDecoder(), [], 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            break
        obj, i = decoder.raw_decode(text, i)
        objects.extend(obj.get("items", []) if obj.get("kind") == "List" else [obj])
    return objects


def ref(obj):
    return f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"


# --------------------------------------------------------------------------------------------
# Kubernetes semantics


def selects(selector, labels):
    """Whether a LabelSelector (matchLabels/matchExpressions) or a Service's plain selector
    map selects `labels`. An empty selector selects nothing here (it is a mistake in this
    base either way)."""
    if not selector:
        return False
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def quantity(text):
    """A resource quantity (`250m`, `1`, `512Mi`, `2G`) as a float."""
    m = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text).strip())
    if not m:
        raise ValueError(f"not a quantity: {text!r}")
    factors = {"": 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
               "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    if m.group(2) not in factors:
        raise ValueError(f"unknown suffix in quantity {text!r}")
    return float(m.group(1)) * factors[m.group(2)]


def flag_values(args, flag):
    """The values given to `flag` in an argument list, as `--flag V` or `--flag=V`."""
    values = []
    for i, arg in enumerate(args):
        if arg == flag:
            values.append(args[i + 1] if i + 1 < len(args) else None)
        elif arg.startswith(flag + "="):
            values.append(arg[len(flag) + 1:])
    return values


def config_values(text, key):
    """A list key of a testrund configuration file, with the daemon's rules: `#` starts a
    comment at the start of a line or after whitespace; the first occurrence replaces the
    default, later ones add; an empty value clears the list. None when the key is absent."""
    values = None
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*", "", line).strip()
        if not line or "=" not in line:
            continue
        k, v = (part.strip() for part in line.split("=", 1))
        if k != key:
            continue
        v = v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v
        values = [] if values is None else values
        if v:
            values.append(v)
        else:
            values.clear()
    return values


def split_host_port(address):
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def is_loopback(host):
    return host == "localhost" or host.startswith("127.") or host == "::1"


def env_of(container):
    return {e.get("name"): e for e in container.get("env") or []}


# --------------------------------------------------------------------------------------------
# The rendered base


class Base:
    """The rendered objects and what the checks need to know about them."""

    def __init__(self, directory):
        self.directory = directory
        self.objects = to_objects(kubectl(["kustomize", directory]))
        self.by_ref = {ref(o): o for o in self.objects}
        self.workloads = [o for o in self.objects if o.get("kind") in WORKLOAD_KINDS]
        self.services = [o for o in self.objects if o.get("kind") == "Service"]
        self.config_maps = {o["metadata"]["name"]: o for o in self.objects
                            if o.get("kind") == "ConfigMap"}
        self.secrets = {o["metadata"]["name"]: o for o in self.objects
                        if o.get("kind") == "Secret"}

    @staticmethod
    def pod_spec(workload):
        return workload.get("spec", {}).get("template", {}).get("spec", {})

    @staticmethod
    def pod_labels(workload):
        return workload.get("spec", {}).get("template", {}).get("metadata", {}).get(
            "labels") or {}

    def containers(self, workload, init=True):
        """(kind of container, container) of a workload's pod template."""
        spec = self.pod_spec(workload)
        found = [("container", c) for c in spec.get("containers") or []]
        if init:
            found += [("initContainer", c) for c in spec.get("initContainers") or []]
        return found

    def selected_workloads(self, selector):
        return [ref(w) for w in self.workloads if selects(selector, self.pod_labels(w))]

    def config_text(self, workload, container):
        """The testrund.conf a container is started with (--config), or None, and a problem
        text when the path does not lead to a ConfigMap key."""
        paths = flag_values(container.get("args") or [], "--config") or flag_values(
            container.get("command") or [], "--config")
        if len(paths) != 1 or not paths[0]:
            return None, "is not started with exactly one --config FILE"
        path = paths[0]
        volumes = {v.get("name"): v for v in self.pod_spec(workload).get("volumes") or []}
        for mount in container.get("volumeMounts") or []:
            volume = volumes.get(mount.get("name"), {})
            source = volume.get("configMap")
            if source is None:
                continue
            mount_path = mount.get("mountPath", "").rstrip("/")
            if mount.get("subPath"):
                key = mount["subPath"] if path == mount_path else None
            elif path.startswith(mount_path + "/"):
                relative = path[len(mount_path) + 1:]
                items = source.get("items")
                if items is None:
                    key = relative
                else:
                    key = next((i.get("key") for i in items if i.get("path") == relative),
                               None)
            else:
                continue
            if key is None:
                continue
            if not mount.get("readOnly"):
                return None, f"mounts --config {path} (volume {mount.get('name')}) writable"
            config_map = self.config_maps.get(source.get("name"))
            if config_map is None:
                return None, (f"--config {path} comes from ConfigMap {source.get('name')}, "
                              "which the base does not define")
            text = (config_map.get("data") or {}).get(key)
            if text is None:
                return None, (f"--config {path} is key {key!r}, which ConfigMap/"
                              f"{source.get('name')} does not have")
            return text, None
        return None, f"--config {path} is not a file of a mounted ConfigMap"

    def listen_ports(self, workload, container):
        """The plain listen ports a container's daemon binds, and a problem text (or None).
        The configuration file's `listen` lines, replaced by --listen flags if any."""
        text, problem = self.config_text(workload, container)
        if problem:
            return set(), problem
        listen = config_values(text, "listen")
        listen = DEFAULT_LISTEN if listen is None else listen
        flags = flag_values(container.get("args") or [], "--listen")
        if flags:
            listen = [f for f in flags if f]
        if not listen:
            return set(), "has no plain listener (listen in testrund.conf, --listen)"
        ports = set()
        for address in listen:
            try:
                host, port = split_host_port(address)
            except ValueError:
                return set(), f"listens on {address!r}, which is not HOST:PORT"
            if is_loopback(host):
                return set(), (f"listens on {address} (loopback): neither the probes nor "
                               "the Services can reach it")
            ports.add(port)
        return ports, None

    def resolve_port(self, container, port):
        """A probe's or a Service's port (number or name) as the container's port number,
        or None when the container declares no such port."""
        for declared in container.get("ports") or []:
            if port == declared.get("name") or port == declared.get("containerPort"):
                return declared.get("containerPort")
        return None


# --------------------------------------------------------------------------------------------
# The checks


class KubernetesBaseTest(unittest.TestCase):
    base = None

    @classmethod
    def setUpClass(cls):
        cls.base = Base(BASE)

    def assertNoProblems(self, problems, what):
        if problems:
            self.fail(f"{what}:\n  " + "\n  ".join(problems))

    def workload(self, name):
        obj = self.base.by_ref.get(name)
        if obj is None:
            self.fail(f"{name} is not in the rendered base")
        return obj

    def test_objects(self):
        problems = []
        for name in (WORKER, COORDINATOR, "Service/testrund-workers", "Service/testrund",
                     f"ConfigMap/{CONFIG_MAP}", "Secret/testrund-tokens"):
            if name not in self.base.by_ref:
                problems.append(f"{name}: missing from the rendered base")
        worker = self.base.by_ref.get(WORKER, {}).get("spec", {})
        if worker and worker.get("podManagementPolicy") != "Parallel":
            problems.append(f"{WORKER}: podManagementPolicy is "
                            f"{worker.get('podManagementPolicy')!r}, not 'Parallel'")
        coordinator = self.base.by_ref.get(COORDINATOR, {}).get("spec", {})
        if coordinator:
            if coordinator.get("replicas") != 1:
                problems.append(f"{COORDINATOR}: replicas is {coordinator.get('replicas')}, "
                                "not 1 (runs belong to one coordinator)")
            if coordinator.get("strategy", {}).get("type") != "Recreate":
                problems.append(f"{COORDINATOR}: strategy is not Recreate (a rolling update "
                                "runs two coordinators at once)")
        self.assertNoProblems(problems, "objects")

    def test_labels(self):
        problems = []
        for obj in self.base.objects:
            labels = obj.get("metadata", {}).get("labels") or {}
            if labels.get(NAME) != "testrund":
                problems.append(f"{ref(obj)}: label {NAME} is {labels.get(NAME)!r}, "
                                "not 'testrund'")
        for obj in self.base.workloads + self.base.services:
            component = (obj.get("metadata", {}).get("labels") or {}).get(COMPONENT)
            if component not in ("worker", "coordinator"):
                problems.append(f"{ref(obj)}: label {COMPONENT} is {component!r}, not "
                                "'worker' or 'coordinator'")
        for workload in self.base.workloads:
            component = (workload["metadata"].get("labels") or {}).get(COMPONENT)
            pods = self.base.pod_labels(workload)
            if pods.get(NAME) != "testrund" or pods.get(COMPONENT) != component:
                problems.append(f"{ref(workload)}: its pods are labelled {pods}, not "
                                f"{NAME}=testrund, {COMPONENT}={component}")
        self.assertNoProblems(problems, "labels")

    def test_namespace(self):
        problems = []
        sources = sorted(os.path.join(BASE, f) for f in os.listdir(BASE)
                         if f.endswith((".yaml", ".yml")) and f != "kustomization.yaml")
        for path in sources:
            with open(path, encoding="utf-8") as f:
                for obj in to_objects(f.read()):
                    if obj.get("metadata", {}).get("namespace"):
                        problems.append(f"{ref(obj)} ({os.path.basename(path)}): names "
                                        f"namespace {obj['metadata']['namespace']!r}; the "
                                        "kustomization sets it")
        namespaced = [o for o in self.base.objects if o.get("kind") not in CLUSTER_SCOPED]
        spaces = {o.get("metadata", {}).get("namespace") for o in namespaced}
        if len(spaces) != 1 or None in spaces:
            problems.append("the rendered objects are not all in one namespace: " + ", ".join(
                f"{ref(o)} in {o.get('metadata', {}).get('namespace')}" for o in namespaced))
        namespaces = [o for o in self.base.objects if o.get("kind") == "Namespace"]
        for namespace in namespaces:
            if namespace["metadata"]["name"] not in spaces:
                problems.append(f"{ref(namespace)}: no object of the base is in it "
                                f"(they are in {sorted(map(str, spaces))})")
        self.assertNoProblems(problems, "namespace")

    def test_workload_selectors_select_their_own_pods_only(self):
        problems = []
        for workload in self.base.workloads:
            selector = workload.get("spec", {}).get("selector")
            chosen = self.base.selected_workloads(selector)
            if chosen != [ref(workload)]:
                problems.append(f"{ref(workload)}: spec.selector {selector} selects the pods "
                                f"of {chosen or 'nothing'}, not exactly its own")
            affinity = self.base.pod_spec(workload).get("affinity") or {}
            for kind in ("podAntiAffinity", "podAffinity"):
                for rule in ((affinity.get(kind) or {}).get(
                        "preferredDuringSchedulingIgnoredDuringExecution") or []):
                    term = rule.get("podAffinityTerm", {})
                    chosen = self.base.selected_workloads(term.get("labelSelector"))
                    if chosen != [ref(workload)]:
                        problems.append(f"{ref(workload)}: the {kind} labelSelector selects "
                                        f"the pods of {chosen or 'nothing'}, not its own")
                for term in ((affinity.get(kind) or {}).get(
                        "requiredDuringSchedulingIgnoredDuringExecution") or []):
                    chosen = self.base.selected_workloads(term.get("labelSelector"))
                    if chosen != [ref(workload)]:
                        problems.append(f"{ref(workload)}: the {kind} labelSelector selects "
                                        f"the pods of {chosen or 'nothing'}, not its own")
        self.assertNoProblems(problems, "workload selectors")

    def test_services_select_the_intended_pods(self):
        problems = []
        for service in self.base.services:
            name = service["metadata"]["name"]
            selector = service.get("spec", {}).get("selector")
            chosen = self.base.selected_workloads(selector)
            intended = SERVICE_TARGETS.get(name)
            if intended is None:
                problems.append(f"{ref(service)}: a Service this test does not know; add "
                                "it to SERVICE_TARGETS with the workload it must select")
            elif chosen != [intended]:
                problems.append(f"{ref(service)}: selector {selector} selects the pods of "
                                f"{chosen or 'nothing'}, not exactly those of {intended}")
        self.assertNoProblems(problems, "Service selectors")

    def test_statefulset_service_is_headless(self):
        problems = []
        for workload in self.base.workloads:
            if workload.get("kind") != "StatefulSet":
                continue
            name = workload.get("spec", {}).get("serviceName")
            service = self.base.by_ref.get(f"Service/{name}")
            if service is None:
                problems.append(f"{ref(workload)}: serviceName {name!r} is no Service of "
                                "the base")
                continue
            spec = service.get("spec", {})
            if spec.get("clusterIP") != "None":
                problems.append(f"{ref(workload)}: serviceName {name} is not headless "
                                f"(its clusterIP is {spec.get('clusterIP', 'unset')!r}, "
                                "not 'None')")
            if spec.get("publishNotReadyAddresses"):
                problems.append(f"{ref(service)}: publishNotReadyAddresses is true: the "
                                "coordinator would be given workers that are not ready")
            if ref(workload) not in self.base.selected_workloads(spec.get("selector")):
                problems.append(f"{ref(service)}: does not select the pods of "
                                f"{ref(workload)}, whose serviceName it is")
            for port in spec.get("ports") or []:
                for _, container in self.base.containers(workload, init=False):
                    resolved = self.base.resolve_port(
                        container, port.get("targetPort", port.get("port")))
                    if resolved is not None and resolved != port.get("port"):
                        problems.append(f"{ref(service)}: port {port.get('port')} is not "
                                        f"the pods' port {resolved} (a headless Service's "
                                        "clients connect to the pods' port)")
        self.assertNoProblems(problems, "StatefulSet services")

    def test_probes_and_ports_agree_with_the_configuration(self):
        problems = []
        for workload in self.base.workloads:
            for _, container in self.base.containers(workload, init=False):
                where = f"{ref(workload)} container {container.get('name')}"
                ports, problem = self.base.listen_ports(workload, container)
                if problem:
                    problems.append(f"{where}: {problem}")
                    continue
                declared = {p.get("containerPort") for p in container.get("ports") or []}
                for port in sorted(ports - declared):
                    problems.append(f"{where}: listens on port {port} (testrund.conf, "
                                    f"--listen) but declares ports {sorted(declared)}")
                for probe_name in ("readinessProbe", "livenessProbe"):
                    probe = container.get(probe_name)
                    if not probe:
                        problems.append(f"{where}: has no {probe_name}")
                        continue
                    get = probe.get("httpGet")
                    if not get:
                        problems.append(f"{where}: {probe_name} is not an httpGet")
                        continue
                    if get.get("path") != "/health":
                        problems.append(f"{where}: {probe_name} asks for "
                                        f"{get.get('path')!r}, not /health")
                    if get.get("scheme", "HTTP") != "HTTP":
                        problems.append(f"{where}: {probe_name} uses {get.get('scheme')} on "
                                        "the plain listener")
                    port = self.base.resolve_port(container, get.get("port"))
                    if port is None:
                        problems.append(f"{where}: {probe_name} port {get.get('port')!r} is "
                                        f"not a port the container declares")
                    elif port not in ports:
                        problems.append(f"{where}: {probe_name} port {get.get('port')!r} "
                                        f"({port}) is not a listen port {sorted(ports)} of "
                                        "its testrund.conf")
        self.assertNoProblems(problems, "probes and ports")

    def test_service_target_ports_reach_the_daemon(self):
        problems = []
        for service in self.base.services:
            selected = [w for w in self.base.workloads
                        if selects(service.get("spec", {}).get("selector"),
                                   self.base.pod_labels(w))]
            for port in service.get("spec", {}).get("ports") or []:
                target = port.get("targetPort", port.get("port"))
                for workload in selected:
                    reached = []
                    for _, container in self.base.containers(workload, init=False):
                        number = self.base.resolve_port(container, target)
                        if number is None:
                            continue
                        ports, _ = self.base.listen_ports(workload, container)
                        reached.append(number in ports)
                    if not any(reached):
                        problems.append(f"{ref(service)}: port {port.get('port')} targetPort "
                                        f"{target!r} is not a listen port of any container "
                                        f"of {ref(workload)}")
        self.assertNoProblems(problems, "Service ports")

    def test_coordinator_finds_the_workers_through_the_headless_service(self):
        problems = []
        coordinator, worker = self.workload(COORDINATOR), self.workload(WORKER)
        service = worker.get("spec", {}).get("serviceName")
        namespace = self.base.by_ref[COORDINATOR].get("metadata", {}).get("namespace")
        worker_ports = set()
        for _, container in self.base.containers(worker, init=False):
            ports, problem = self.base.listen_ports(worker, container)
            if problem:
                self.fail(f"{WORKER} container {container.get('name')}: {problem}, so the "
                          "port --workers must name is unknown")
            worker_ports |= ports
        for _, container in self.base.containers(coordinator, init=False):
            where = f"{COORDINATOR} container {container.get('name')}"
            args = container.get("args") or []
            if "--coordinator" not in args:
                problems.append(f"{where}: not started with --coordinator")
            workers = flag_values(args, "--workers")
            if len(workers) != 1 or not workers[0]:
                problems.append(f"{where}: needs exactly one --workers value, has {workers}")
                continue
            entries = workers[0].split(",")
            if len(entries) != 1:
                problems.append(f"{where}: --workers {workers[0]} lists addresses; it should "
                                "be the one DNS name of the headless Service")
                continue
            host, _, port = entries[0].rpartition(":")
            parts = host.split(".")
            env = env_of(container)
            if len(parts) != 5 or parts[2:] != ["svc", "cluster", "local"]:
                problems.append(f"{where}: --workers {entries[0]} is not "
                                "SERVICE.NAMESPACE.svc.cluster.local:PORT")
                continue
            if parts[0] != service:
                problems.append(f"{where}: --workers names Service {parts[0]!r}, not the "
                                f"workers' headless Service {service!r}")
            m = VARIABLE.fullmatch(parts[1])
            if m:
                field = (env.get(m.group(1), {}).get("valueFrom") or {}).get("fieldRef", {})
                if field.get("fieldPath") != "metadata.namespace":
                    problems.append(f"{where}: --workers uses $({m.group(1)}) as the "
                                    "namespace, which is not the downward API's "
                                    "metadata.namespace")
            elif parts[1] != namespace:
                problems.append(f"{where}: --workers names namespace {parts[1]!r}; the "
                                f"objects are in {namespace!r}")
            if not port.isdigit() or int(port) not in worker_ports:
                problems.append(f"{where}: --workers port {port} is not the workers' listen "
                                f"port {sorted(worker_ports)}")
        self.assertNoProblems(problems, "coordinator --workers")

    def secret_key_of(self, container, text):
        """The (Secret, key) that `$(VAR)` (all of `text`) comes from, or None."""
        m = VARIABLE.fullmatch(text or "")
        if not m:
            return None
        source = (env_of(container).get(m.group(1), {}).get("valueFrom") or {}).get(
            "secretKeyRef")
        return (source.get("name"), source.get("key")) if source else None

    def test_worker_token(self):
        problems = []
        operator_keys = set()
        for _, container in self.base.containers(self.workload(WORKER), init=False):
            for value in flag_values(container.get("args") or [], "--token"):
                variable, _, role = (value or "").rpartition(":")
                if role == "operator":
                    operator_keys.add(self.secret_key_of(container, variable))
        for _, container in self.base.containers(self.workload(COORDINATOR), init=False):
            where = f"{COORDINATOR} container {container.get('name')}"
            tokens = flag_values(container.get("args") or [], "--worker-token")
            if len(tokens) != 1:
                problems.append(f"{where}: needs exactly one --worker-token, has {tokens}")
                continue
            key = self.secret_key_of(container, tokens[0])
            if key is None:
                problems.append(f"{where}: --worker-token {tokens[0]!r} is not a $(VAR) "
                                "from a secretKeyRef")
            elif key not in operator_keys:
                problems.append(f"{where}: --worker-token comes from Secret {key[0]} key "
                                f"{key[1]}, which {WORKER} does not accept as operator "
                                f"(it accepts {sorted(k for k in operator_keys if k)})")
        self.assertNoProblems(problems, "worker token")

    def test_secrets_only_through_secret_key_refs(self):
        problems = []
        secret_values = set()
        for secret in self.base.secrets.values():
            secret_values.update(v for v in (secret.get("stringData") or {}).values() if v)
            secret_values.update(v for v in (secret.get("data") or {}).values() if v)
        for workload in self.base.workloads:
            spec = self.base.pod_spec(workload)
            for volume in spec.get("volumes") or []:
                projected = (volume.get("projected") or {}).get("sources") or []
                if "secret" in volume or any("secret" in s for s in projected):
                    problems.append(f"{ref(workload)}: volume {volume.get('name')} mounts a "
                                    "Secret (tokens come as env secretKeyRef only)")
            for kind, container in self.base.containers(workload):
                where = f"{ref(workload)} {kind} {container.get('name')}"
                for source in container.get("envFrom") or []:
                    if "secretRef" in source:
                        problems.append(f"{where}: envFrom secretRef {source['secretRef']} "
                                        "(use one env secretKeyRef per token)")
                env = env_of(container)
                for name, var in env.items():
                    if var.get("value") in secret_values:
                        problems.append(f"{where}: env {name} holds a secret value literally")
                    source = (var.get("valueFrom") or {}).get("secretKeyRef")
                    if source is None:
                        continue
                    secret = self.base.secrets.get(source.get("name"))
                    if secret is None:
                        problems.append(f"{where}: env {name} names Secret "
                                        f"{source.get('name')!r}, which the base lacks")
                    elif source.get("key") not in {**(secret.get("data") or {}),
                                                   **(secret.get("stringData") or {})}:
                        problems.append(f"{where}: env {name} names key "
                                        f"{source.get('key')!r}, which Secret/"
                                        f"{source.get('name')} lacks")
                words = (container.get("command") or []) + (container.get("args") or [])
                for word in words:
                    if any(value in word for value in secret_values):
                        problems.append(f"{where}: the command line holds a secret value "
                                        f"literally ({word!r})")
                    for variable in VARIABLE.findall(word):
                        if variable not in env:
                            problems.append(f"{where}: {word!r} uses $({variable}), which "
                                            "its env does not define (Kubernetes would pass "
                                            "it on as text)")
                for value in flag_values(container.get("args") or [], "--token"):
                    variable, _, role = (value or "").rpartition(":")
                    if role not in ("operator", "observer"):
                        problems.append(f"{where}: --token {value!r} has no role operator "
                                        "or observer")
                    elif self.secret_key_of(container, variable) is None:
                        problems.append(f"{where}: --token {value!r} is not $(VAR):ROLE "
                                        "with VAR from a secretKeyRef")
        self.assertNoProblems(problems, "secrets")

    def test_security_context(self):
        problems = []
        for workload in self.base.workloads:
            spec = self.base.pod_spec(workload)
            pod = spec.get("securityContext") or {}
            if spec.get("automountServiceAccountToken") is not False:
                problems.append(f"{ref(workload)}: automountServiceAccountToken is not false")
            for host in ("hostNetwork", "hostPID", "hostIPC"):
                if spec.get(host):
                    problems.append(f"{ref(workload)}: {host} is true")
            for kind, container in self.base.containers(workload):
                where = f"{ref(workload)} {kind} {container.get('name')}"
                own = container.get("securityContext") or {}

                def effective(key):
                    return own[key] if key in own else pod.get(key)

                if effective("runAsNonRoot") is not True:
                    problems.append(f"{where}: runAsNonRoot is not true")
                user = effective("runAsUser")
                if not isinstance(user, int) or user == 0:
                    problems.append(f"{where}: runAsUser is {user!r}, not a set non-zero uid")
                if own.get("readOnlyRootFilesystem") is not True:
                    problems.append(f"{where}: readOnlyRootFilesystem is not true")
                if own.get("allowPrivilegeEscalation") is not False:
                    problems.append(f"{where}: allowPrivilegeEscalation is not false")
                if own.get("privileged"):
                    problems.append(f"{where}: privileged")
                if "ALL" not in ((own.get("capabilities") or {}).get("drop") or []):
                    problems.append(f"{where}: capabilities do not drop ALL")
                if (own.get("capabilities") or {}).get("add"):
                    problems.append(f"{where}: adds capabilities "
                                    f"{own['capabilities']['add']}")
                seccomp = (effective("seccompProfile") or {}).get("type")
                if seccomp != "RuntimeDefault":
                    problems.append(f"{where}: seccompProfile is {seccomp!r}, not "
                                    "RuntimeDefault")
        self.assertNoProblems(problems, "security contexts")

    def test_resources(self):
        problems = []
        for workload in self.base.workloads:
            for kind, container in self.base.containers(workload):
                where = f"{ref(workload)} {kind} {container.get('name')}"
                resources = container.get("resources") or {}
                for resource in ("cpu", "memory"):
                    request = (resources.get("requests") or {}).get(resource)
                    limit = (resources.get("limits") or {}).get(resource)
                    if request is None or limit is None:
                        problems.append(f"{where}: {resource} request {request!r} and limit "
                                        f"{limit!r}: both must be set")
                    elif quantity(request) > quantity(limit):
                        problems.append(f"{where}: {resource} request {request} is over its "
                                        f"limit {limit}")
        self.assertNoProblems(problems, "resources")

    def test_one_image(self):
        images = {}
        for workload in self.base.workloads:
            for kind, container in self.base.containers(workload):
                images.setdefault(container.get("image"), []).append(
                    f"{ref(workload)} {kind} {container.get('name')}")
        self.assertEqual(len(images), 1, "the containers run different images: " + "; ".join(
            f"{image}: {', '.join(users)}" for image, users in images.items()))
        if VERSION:
            self.assertEqual(next(iter(images)), f"testrund:{VERSION}",
                             f"the image is not testrund:{VERSION} (meson.build's version): "
                             + ", ".join(next(iter(images.values()))))

    def test_the_daemon_accepts_each_containers_arguments(self):
        """Each container's command line, its $(VAR)s given placeholder values and --config
        pointing at its ConfigMap's text, passes the real daemon's --check-config."""
        binary = os.environ.get("TESTRUND_BINARY")
        if not binary:
            self.skipTest("TESTRUND_BINARY is not set")
        problems = []
        for workload in self.base.workloads:
            for _, container in self.base.containers(workload, init=False):
                where = f"{ref(workload)} container {container.get('name')}"
                text, problem = self.base.config_text(workload, container)
                if problem:
                    problems.append(f"{where}: {problem}")
                    continue
                with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
                    conf.write(text)
                    conf.flush()
                    args = [re.sub(r"\$\((\w+)\)", lambda m: m.group(1).lower(), a)
                            for a in container.get("args") or []]
                    config = args.index("--config")
                    args[config + 1] = conf.name
                    proc = subprocess.run([binary, *args, "--check-config"],
                                          capture_output=True, text=True, timeout=30)
                if proc.returncode != 0:
                    problems.append(f"{where}: testrund {' '.join(args)} --check-config "
                                    f"exits {proc.returncode}: {proc.stderr.strip()}")
        self.assertNoProblems(problems, "the daemon's --check-config")

    def test_containerfile_agrees_with_the_manifests(self):
        path = os.path.join(BASE, "Containerfile")
        with open(path, encoding="utf-8") as f:
            # Instructions, with continuation lines joined and comments dropped.
            text = re.sub(r"\\\n", " ", "".join(
                line for line in f if not line.lstrip().startswith("#")))
        instructions = {}
        for line in text.splitlines():
            word, _, rest = line.strip().partition(" ")
            if word:
                instructions.setdefault(word.upper(), []).append(rest.strip())
        problems = []
        if instructions.get("FROM") != ["debian:12-slim"]:
            problems.append(f"Containerfile: FROM {instructions.get('FROM')}, not "
                            "debian:12-slim")
        entrypoint = json.loads(instructions.get("ENTRYPOINT", ["null"])[-1])
        cmd = json.loads(instructions.get("CMD", ["null"])[-1])
        user = instructions.get("USER", [""])[-1]
        exposed = {int(p.split("/")[0]) for e in instructions.get("EXPOSE", [])
                   for p in e.split()}
        if cmd is None or not flag_values(cmd, "--config"):
            problems.append(f"Containerfile: CMD {cmd} does not name --config")
        for workload in self.base.workloads:
            pod = self.base.pod_spec(workload).get("securityContext") or {}
            for _, container in self.base.containers(workload, init=False):
                where = f"{ref(workload)} container {container.get('name')}"
                own = container.get("securityContext") or {}
                uid = own.get("runAsUser", pod.get("runAsUser"))
                gid = own.get("runAsGroup", pod.get("runAsGroup"))
                if user != f"{uid}:{gid}":
                    problems.append(f"{where}: runs as {uid}:{gid}; the Containerfile's "
                                    f"USER is {user!r}")
                if container.get("command") and container["command"] != entrypoint:
                    problems.append(f"{where}: command {container['command']} is not the "
                                    f"Containerfile's ENTRYPOINT {entrypoint}")
                ports, _ = self.base.listen_ports(workload, container)
                if ports and not ports <= exposed:
                    problems.append(f"{where}: listens on {sorted(ports)}; the "
                                    f"Containerfile EXPOSEs {sorted(exposed)}")
                config = flag_values(container.get("args") or [], "--config")
                if cmd and config != flag_values(cmd, "--config"):
                    problems.append(f"{where}: --config {config} is not the Containerfile "
                                    f"CMD's {flag_values(cmd, '--config')}")
        self.assertNoProblems(problems, "Containerfile")


def main(argv):
    global BASE, KUBECTL
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    BASE = argv[1]
    KUBECTL = os.environ.get("KUBECTL") or shutil.which("kubectl")
    if not KUBECTL:
        print("SKIP: kubectl is not installed, so deploy/kubernetes cannot be rendered "
              "(Debian 12: apt install kubernetes-client)")
        return SKIP
    program = unittest.main(verbosity=2, argv=[argv[0]], exit=False)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
