package rewards

import (
	"encoding/json"
	"testing"

	"go.opentelemetry.io/collector/pdata/pcommon"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// FuzzReaders feeds arbitrary attribute maps (as JSON) to every reader: they
// must return an error, never panic.
func FuzzReaders(f *testing.F) {
	for _, seed := range []string{
		`{"agentlightning.reward.0.name":"a","agentlightning.reward.0.value":1}`,
		`{"agentlightning.reward.0":{"name":"a"},"agentlightning.reward.0.value.x":[1,2]}`,
		`{"agentops.task.output":"{\"type\":\"reward\",\"value\":[1]}"}`,
		`{"annotations.0.annotation.name":"x","annotations.0.annotation.score":{"a":1},"evaluations.x.evaluation.name":1}`,
		`{"agentlightning.link.0":"x","agentlightning.tag.0.a":1,"reward":null}`,
	} {
		f.Add(AnnotationSpanName, seed)
	}
	f.Fuzz(func(t *testing.T, name, doc string) {
		var raw map[string]any
		if json.Unmarshal([]byte(doc), &raw) != nil {
			return
		}
		m := pcommon.NewMap()
		views := []Attributes{FromModel(model.Attributes(raw))}
		if m.FromRaw(raw) == nil {
			views = append(views, FromPData(m))
		}
		for _, a := range views {
			_, _ = Read(name, a)
			_, _ = Links(a)
			_, _ = Tags(a)
			_, _ = EvaluationResult(a)
			_, _ = OpenInferenceFeedback(a)
			_ = IsRewardOperation(name, a)
		}
	})
}
