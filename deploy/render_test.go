package deploy

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"
)

// The release the tests render: its name differs from the chart's, so that
// resource names are release-chart.
const (
	releaseName = "prod"
	namespace   = "telemetry"
	fullname    = "prod-weir"
)

// KEDA's and the Prometheus Operator's resources, as far as the chart uses
// them: their CRDs' field names (keda.sh/v1alpha1, monitoring.coreos.com/v1).
// A strict decode into these refuses a field the CRD does not have and a
// trigger metadata value that is not a string (KEDA's metadata is a
// map[string]string).
type (
	scaledObject struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
		Spec            struct {
			ScaleTargetRef struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Name       string `json:"name"`
			} `json:"scaleTargetRef"`
			PollingInterval *int32 `json:"pollingInterval"`
			CooldownPeriod  *int32 `json:"cooldownPeriod"`
			MinReplicaCount *int32 `json:"minReplicaCount"`
			MaxReplicaCount *int32 `json:"maxReplicaCount"`
			Triggers        []struct {
				Type              string            `json:"type"`
				Name              string            `json:"name"`
				Metadata          map[string]string `json:"metadata"`
				AuthenticationRef *struct {
					Name string `json:"name"`
					Kind string `json:"kind"`
				} `json:"authenticationRef"`
			} `json:"triggers"`
		} `json:"spec"`
	}
	triggerAuthentication struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
		Spec            struct {
			SecretTargetRef []struct {
				Parameter string `json:"parameter"`
				Name      string `json:"name"`
				Key       string `json:"key"`
			} `json:"secretTargetRef"`
			Env []struct {
				Parameter     string `json:"parameter"`
				Name          string `json:"name"`
				ContainerName string `json:"containerName"`
			} `json:"env"`
		} `json:"spec"`
	}
	serviceMonitor struct {
		metav1.TypeMeta `json:",inline"`
		Metadata        metav1.ObjectMeta `json:"metadata"`
		Spec            struct {
			Selector  metav1.LabelSelector `json:"selector"`
			Endpoints []struct {
				Port     string `json:"port"`
				Path     string `json:"path"`
				Interval string `json:"interval"`
			} `json:"endpoints"`
		} `json:"spec"`
	}
)

// release is what the chart rendered, each document decoded into its type.
type release struct {
	notes          string
	deployment     *appsv1.Deployment
	service        *corev1.Service
	serviceAccount *corev1.ServiceAccount
	pdb            *policyv1.PodDisruptionBudget
	configMaps     map[string]*corev1.ConfigMap
	secrets        map[string]*corev1.Secret
	scaledObject   *scaledObject
	triggerAuths   map[string]*triggerAuthentication
	serviceMonitor *serviceMonitor
	kinds          []string // every document's kind, sorted
}

// render renders the chart with values (YAML, over the chart's defaults) as
// helm install does: the values are checked against values.schema.json and
// the templates run. The error is Helm's (a schema violation or a template's
// fail message).
func render(values string) (map[string]string, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading the chart: %w", err)
	}
	vals, err := chartutil.ReadValues([]byte(values))
	if err != nil {
		return nil, fmt.Errorf("test values: %w", err)
	}
	opts := chartutil.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	rv, err := chartutil.ToRenderValues(ch, vals, opts, chartutil.DefaultCapabilities.Copy())
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, rv)
}

// mustRender renders values and decodes every document strictly into its
// Kubernetes (or CRD) type; anything that does not decode, or a kind the
// chart should not make, fails the test.
func mustRender(t *testing.T, values string) *release {
	t.Helper()
	out, err := render(values)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := &release{
		configMaps:   map[string]*corev1.ConfigMap{},
		secrets:      map[string]*corev1.Secret{},
		triggerAuths: map[string]*triggerAuthentication{},
	}
	files := make([]string, 0, len(out))
	for f := range out {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		if path.Base(f) == "NOTES.txt" {
			r.notes = out[f]
			continue
		}
		for _, doc := range releaseutil.SplitManifests(out[f]) {
			if isEmptyDoc(doc) {
				continue
			}
			if err := r.add([]byte(doc)); err != nil {
				t.Fatalf("%s: %v\n%s", f, err, doc)
			}
		}
	}
	sort.Strings(r.kinds)
	return r
}

// isEmptyDoc tells a document of only comments and blank lines.
func isEmptyDoc(doc string) bool {
	for _, l := range strings.Split(doc, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return false
		}
	}
	return true
}

func (r *release) add(doc []byte) error {
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return fmt.Errorf("not YAML: %w", err)
	}
	strict := func(into any) error {
		if err := yaml.UnmarshalStrict(doc, into); err != nil {
			return fmt.Errorf("%s %s does not decode strictly: %w", tm.APIVersion, tm.Kind, err)
		}
		return nil
	}
	var meta *metav1.ObjectMeta
	switch gvk := tm.APIVersion + " " + tm.Kind; gvk {
	case "apps/v1 Deployment":
		if r.deployment != nil {
			return fmt.Errorf("a second Deployment")
		}
		r.deployment = &appsv1.Deployment{}
		meta = &r.deployment.ObjectMeta
		if err := strict(r.deployment); err != nil {
			return err
		}
	case "v1 Service":
		r.service = &corev1.Service{}
		meta = &r.service.ObjectMeta
		if err := strict(r.service); err != nil {
			return err
		}
	case "v1 ServiceAccount":
		r.serviceAccount = &corev1.ServiceAccount{}
		meta = &r.serviceAccount.ObjectMeta
		if err := strict(r.serviceAccount); err != nil {
			return err
		}
	case "policy/v1 PodDisruptionBudget":
		r.pdb = &policyv1.PodDisruptionBudget{}
		meta = &r.pdb.ObjectMeta
		if err := strict(r.pdb); err != nil {
			return err
		}
	case "v1 ConfigMap":
		cm := &corev1.ConfigMap{}
		meta = &cm.ObjectMeta
		if err := strict(cm); err != nil {
			return err
		}
		r.configMaps[cm.Name] = cm
		for k := range cm.Data {
			if errs := validation.IsConfigMapKey(k); len(errs) > 0 {
				return fmt.Errorf("ConfigMap %s: key %q: %s", cm.Name, k, strings.Join(errs, "; "))
			}
		}
	case "v1 Secret":
		s := &corev1.Secret{}
		meta = &s.ObjectMeta
		if err := strict(s); err != nil {
			return err
		}
		r.secrets[s.Name] = s
	case "keda.sh/v1alpha1 ScaledObject":
		r.scaledObject = &scaledObject{}
		meta = &r.scaledObject.Metadata
		if err := strict(r.scaledObject); err != nil {
			return err
		}
	case "keda.sh/v1alpha1 TriggerAuthentication":
		ta := &triggerAuthentication{}
		meta = &ta.Metadata
		if err := strict(ta); err != nil {
			return err
		}
		r.triggerAuths[ta.Metadata.Name] = ta
	case "monitoring.coreos.com/v1 ServiceMonitor":
		r.serviceMonitor = &serviceMonitor{}
		meta = &r.serviceMonitor.Metadata
		if err := strict(r.serviceMonitor); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unexpected kind %q", gvk)
	}
	if errs := validation.IsDNS1123Subdomain(meta.Name); len(errs) > 0 {
		return fmt.Errorf("%s name %q: %s", tm.Kind, meta.Name, strings.Join(errs, "; "))
	}
	for k, v := range meta.Labels {
		if errs := append(validation.IsQualifiedName(k), validation.IsValidLabelValue(v)...); len(errs) > 0 {
			return fmt.Errorf("%s %s: label %s=%q: %s", tm.Kind, meta.Name, k, v, strings.Join(errs, "; "))
		}
	}
	r.kinds = append(r.kinds, tm.Kind)
	return nil
}

// container returns the Deployment's weir container.
func (r *release) container(t *testing.T) *corev1.Container {
	t.Helper()
	if r.deployment == nil {
		t.Fatal("no Deployment")
	}
	for i, c := range r.deployment.Spec.Template.Spec.Containers {
		if c.Name == "weir" {
			return &r.deployment.Spec.Template.Spec.Containers[i]
		}
	}
	t.Fatal("the Deployment has no container named weir")
	return nil
}

// podView is the weir container's view of its mounted files: path → content,
// and the directories of mounted Secrets the release does not make (their
// keys are unknown here).
type podView struct {
	files  map[string]string
	opaque []string
}

// has tells whether the container can open p (absolute).
func (v podView) has(p string) bool {
	if _, ok := v.files[p]; ok {
		return true
	}
	for _, d := range v.opaque {
		if strings.HasPrefix(p, d+"/") {
			return true
		}
	}
	return false
}

// view builds the container's files from its volume mounts, the volumes'
// ConfigMap and Secret items and the documents of the release. A mount of a
// volume that does not exist, or of a ConfigMap key that does not, fails.
func (r *release) view(t *testing.T) podView {
	t.Helper()
	c := r.container(t)
	vols := map[string]corev1.Volume{}
	for _, v := range r.deployment.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	v := podView{files: map[string]string{}}
	for _, m := range c.VolumeMounts {
		vol, ok := vols[m.Name]
		if !ok {
			t.Fatalf("mount %s: no volume %q", m.MountPath, m.Name)
		}
		var data map[string]string // key → content
		var items []corev1.KeyToPath
		switch {
		case vol.ConfigMap != nil:
			cm, ok := r.configMaps[vol.ConfigMap.Name]
			if !ok {
				t.Fatalf("volume %s: ConfigMap %q is not in the release", vol.Name, vol.ConfigMap.Name)
			}
			data, items = cm.Data, vol.ConfigMap.Items
		case vol.Secret != nil:
			s, ok := r.secrets[vol.Secret.SecretName]
			if !ok {
				v.opaque = append(v.opaque, m.MountPath)
				continue
			}
			data, items = s.StringData, vol.Secret.Items
		default:
			t.Fatalf("volume %s: neither a ConfigMap nor a Secret", vol.Name)
		}
		inVol := map[string]string{} // path in the volume → content
		if len(items) == 0 {
			for k, d := range data {
				inVol[k] = d
			}
		}
		for _, it := range items {
			d, ok := data[it.Key]
			if !ok {
				t.Fatalf("volume %s: item key %q is not in its source", vol.Name, it.Key)
			}
			inVol[it.Path] = d
		}
		if m.SubPath != "" {
			d, ok := inVol[m.SubPath]
			if !ok {
				t.Fatalf("mount %s: subPath %q is not in volume %s", m.MountPath, m.SubPath, vol.Name)
			}
			v.files[m.MountPath] = d
			continue
		}
		for p, d := range inVol {
			v.files[path.Join(m.MountPath, p)] = d
		}
	}
	return v
}

// writeTree writes the view's files under dir, at their paths in the
// container.
func (v podView) writeTree(t *testing.T, dir string) {
	t.Helper()
	for p, d := range v.files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(d), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
