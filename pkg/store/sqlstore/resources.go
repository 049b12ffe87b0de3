package sqlstore

import (
	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
	"github.com/otelcol-lightning/otelcol-lightning/pkg/store"
)

func (t *tx) GetResources(resourcesID string) (*model.ResourcesUpdate, error) {
	return getKeyed[model.ResourcesUpdate](t, "get resources", stmtGetResources, "resources", resourcesID)
}

// PutResources upserts by id; an update keeps the snapshot's insertion
// position (seq) and takes a new write_seq, which breaks update_time ties.
func (t *tx) PutResources(r *model.ResourcesUpdate) error {
	const op = "put resources"
	doc, err := marshalDoc(op, r)
	if err != nil {
		return err
	}
	_, err = t.exec(stmtPutResources, r.ResourcesID, r.CreateTime, r.UpdateTime, r.Version, doc)
	return t.wrap(op, err)
}

func (t *tx) LatestResources() (*model.ResourcesUpdate, error) {
	return getDoc[model.ResourcesUpdate](t, "latest resources", stmtLatestResources)
}

func (t *tx) QueryResources(f store.Filter, p store.Page) ([]model.ResourcesUpdate, int, error) {
	return queryPage[model.ResourcesUpdate](t, &t.b.tables.resources, f, p)
}

func (t *tx) GetWorker(workerID string) (*model.Worker, error) {
	return getKeyed[model.Worker](t, "get worker", stmtGetWorker, "workers", workerID)
}

// PutWorker upserts by id, keeping the worker's insertion position.
func (t *tx) PutWorker(w *model.Worker) error {
	const op = "put worker"
	c := *w
	c.HeartbeatStats = model.RawOrNull(c.HeartbeatStats)
	doc, err := marshalDoc(op, c)
	if err != nil {
		return err
	}
	_, err = t.exec(stmtPutWorker, w.WorkerID, string(w.Status), w.LastHeartbeatTime, w.LastDequeueTime,
		w.LastBusyTime, w.LastIdleTime, w.CurrentRolloutID, w.CurrentAttemptID, doc)
	return t.wrap(op, err)
}

func (t *tx) QueryWorkers(f store.Filter, p store.Page) ([]model.Worker, int, error) {
	return queryPage[model.Worker](t, &t.b.tables.workers, f, p)
}
