package results

import (
	"encoding/json"
	"reflect"
)

// ScenarioName returns the name of the run's scenario: the "name" key of a
// generic JSON scenario (as Read returns it), or the JSON "name" field of a
// scenario struct. It returns "" when there is none.
func (r *Run) ScenarioName() string {
	if r == nil || r.Scenario == nil {
		return ""
	}
	if m, ok := r.Scenario.(map[string]any); ok {
		s, _ := m["name"].(string)
		return s
	}
	if v := reflect.ValueOf(r.Scenario); v.Kind() == reflect.Pointer && v.IsNil() {
		return ""
	}
	data, err := json.Marshal(r.Scenario)
	if err != nil {
		return ""
	}
	var named struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(data, &named) != nil {
		return ""
	}
	return named.Name
}
