package store

import (
	"context"
	"encoding/json"

	"github.com/otelcol-lightning/otelcol-lightning/pkg/model"
)

// AddResources stores a new snapshot (version 1), which becomes the latest.
func (c *Core) AddResources(ctx context.Context, res model.NamedResources) (*model.ResourcesUpdate, error) {
	now := c.now()
	r := &model.ResourcesUpdate{ResourcesID: newResourcesID(), CreateTime: now, UpdateTime: now, Version: 1, Resources: copyResources(res)}
	err := c.update(ctx, func(tx Tx) error { return tx.PutResources(r) })
	if err != nil {
		return nil, err
	}
	return r, nil
}

// UpdateResources replaces a snapshot's resources and bumps its version, or
// creates it; either way it becomes the latest.
func (c *Core) UpdateResources(ctx context.Context, resourcesID string, res model.NamedResources) (*model.ResourcesUpdate, error) {
	c.maybeScan(ctx)
	var out *model.ResourcesUpdate
	err := c.update(ctx, func(tx Tx) error {
		r, err := tx.GetResources(resourcesID)
		if err != nil {
			return err
		}
		now := c.now()
		if r == nil {
			r = &model.ResourcesUpdate{ResourcesID: resourcesID, CreateTime: now}
		}
		r.UpdateTime = now
		r.Version++
		r.Resources = copyResources(res)
		out = r
		return tx.PutResources(r)
	})
	return out, err
}

// GetResources returns a snapshot by id, or nil.
func (c *Core) GetResources(ctx context.Context, resourcesID string) (*model.ResourcesUpdate, error) {
	var out *model.ResourcesUpdate
	err := c.view(ctx, func(tx Tx) error {
		var err error
		out, err = tx.GetResources(resourcesID)
		return err
	})
	return out, err
}

// GetLatestResources returns the snapshot updated last, or nil.
func (c *Core) GetLatestResources(ctx context.Context) (*model.ResourcesUpdate, error) {
	var out *model.ResourcesUpdate
	err := c.view(ctx, func(tx Tx) error {
		var err error
		out, err = tx.LatestResources()
		return err
	})
	return out, err
}

func copyResources(in model.NamedResources) model.NamedResources {
	out := make(model.NamedResources, len(in))
	for k, v := range in {
		out[k] = append(json.RawMessage(nil), v...)
	}
	return out
}
