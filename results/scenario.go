package results

import "encoding/json"

// scenarioName is the "name" key of a scenario's JSON, or "" when there is
// none. Read uses it once for records written before Run.ScenarioName was.
func scenarioName(raw json.RawMessage) string {
	var named struct {
		Name string `json:"name"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &named) != nil {
		return ""
	}
	return named.Name
}
