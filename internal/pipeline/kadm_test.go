package pipeline

import (
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

type kadmOffset = kadm.ListedOffset

func newAdm(cl *kgo.Client) *kadm.Client { return kadm.NewClient(cl) }
