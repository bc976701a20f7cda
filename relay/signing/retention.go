package signing

import (
	"context"
	"errors"
	"fmt"
	"time"

	"parley/relay/customer"
	"parley/relay/ids"
	"parley/relay/retention"
	"parley/relay/store"
)

// SweepStats tells a retention sweep what SweepExpired found and did.
type SweepStats struct {
	// Due counts the processes past their deadline that no hold keeps.
	Due int
	// Deleted counts the due processes deleted.
	Deleted int
	// Failed counts the due processes whose deletion failed (tried again
	// by the next sweep).
	Failed int
}

// classOf is the retention class a process is in now.
func classOf(p *Process) string {
	if p.Status == StatusCompleted {
		return retention.ClassSignedDocument
	}
	return retention.ClassSignatureProcess
}

// SweepExpired deletes every process of class (retention.ClassSignatureProcess:
// not completed, 30 days after its start; retention.ClassSignedDocument:
// completed, 180 days after completion; or the tenant's periods) whose
// deadline has passed at now, with its document versions, links, codes
// and indexes, except those a legal hold keeps (on the process as subject
// kind document, or on one of its customers). Reads already hide them.
func (s *Service) SweepExpired(ctx context.Context, class string, now time.Time) (SweepStats, error) {
	var st SweepStats
	var due []*Process
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan([]byte(prefixProcess), func(k, v []byte) error {
			var p Process
			if err := jsonUnmarshal(v, &p); err != nil {
				st.Failed++
				return nil
			}
			if classOf(&p) == class && !now.Before(s.deadline(&p)) {
				due = append(due, &p)
			}
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("signing: sweep: %w", err)
	}
	var errs []error
	for _, p := range due {
		if s.held(ctx, p) {
			continue
		}
		st.Due++
		if err := ctx.Err(); err != nil {
			st.Failed++
			errs = append(errs, err)
			continue
		}
		if err := s.deleteProcess(ctx, p.ID); err != nil {
			st.Failed++
			errs = append(errs, err)
			s.log.Error("signing: retention delete failed", "process_id", p.ID, "err", err)
			continue
		}
		st.Deleted++
		s.log.Info("signing: deleted by retention", "process_id", p.ID, "class", class)
	}
	if len(errs) > 0 {
		return st, fmt.Errorf("signing: sweep: %d deletions failed: %w", len(errs), errors.Join(errs...))
	}
	return st, nil
}

// deleteProcess removes a process: its document chunks first (in several
// transactions), then in one transaction its record, indexes and links.
// A crash in between leaves the record for the next run.
func (s *Service) deleteProcess(ctx context.Context, id string) error {
	unlock := s.lock(id)
	defer unlock()
	if err := deleteKeys(ctx, s.kv, docPrefix(id)); err != nil {
		return err
	}
	err := s.kv.Update(ctx, func(tx store.Txn) error {
		p, err := getProcess(tx, id)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := dropAccess(tx, id); err != nil {
			return err
		}
		for _, sg := range p.Signers {
			if sg.CustomerID != "" {
				if err := tx.Delete(custKey(p.TenantID, sg.CustomerID, id)); err != nil {
					return err
				}
			}
		}
		if err := tx.Delete(tenantKey(p.TenantID, id)); err != nil {
			return err
		}
		return tx.Delete(processKey(id))
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	delete(s.locks, id)
	s.mu.Unlock()
	return nil
}

// customerProcesses lists the ids of the processes a customer signs in.
func (s *Service) customerProcesses(ctx context.Context, tenantID, customerID string) ([]string, error) {
	var out []string
	err := s.kv.View(ctx, func(tx store.Txn) error {
		return tx.Scan(custPrefix(tenantID, customerID), func(k, _ []byte) error {
			out = append(out, lastSegment(k))
			return nil
		})
	})
	return out, err
}

// EraseCustomer deletes every process in which the customer of the tenant
// is a signer, with its documents (erasure on the data subject's request;
// the caller authorises, audits and checks holds). It is idempotent and
// returns how many processes it deleted.
func (s *Service) EraseCustomer(ctx context.Context, tenantID, customerID string) (int, error) {
	if !ids.ValidRef(tenantID) || !ids.ValidRef(customerID) {
		return 0, fmt.Errorf("signing: erase customer: %w", invalid("customer_id", "malformed"))
	}
	pids, err := s.customerProcesses(ctx, tenantID, customerID)
	if err != nil {
		return 0, fmt.Errorf("signing: erase customer: %w", err)
	}
	n := 0
	for _, id := range pids {
		if err := s.deleteProcess(ctx, id); err != nil {
			return n, fmt.Errorf("signing: erase customer: %w", err)
		}
		// An index entry whose process was gone already goes too.
		if err := s.kv.Update(ctx, func(tx store.Txn) error { return tx.Delete(custKey(tenantID, customerID, id)) }); err != nil {
			return n, fmt.Errorf("signing: erase customer: %w", err)
		}
		n++
	}
	s.log.Info("signing: customer's processes erased", "tenant_id", tenantID, "customer_id", customerID, "count", n)
	return n, nil
}

// Export is one process of a customer for a data export.
type Export struct {
	// Process is the process; other customers' ids are removed.
	Process Process
	// Final is the sealed document of a completed process (nil otherwise).
	Final []byte
}

// ExportCustomer returns the customer's processes in the tenant (those
// not past their deadline) with the final PDFs of the completed ones.
func (s *Service) ExportCustomer(ctx context.Context, tenantID, customerID string) ([]Export, error) {
	pids, err := s.customerProcesses(ctx, tenantID, customerID)
	if err != nil {
		return nil, fmt.Errorf("signing: export customer: %w", err)
	}
	now := s.clock.Now()
	var out []Export
	for _, id := range pids {
		var p *Process
		err := s.kv.View(ctx, func(tx store.Txn) error {
			var err error
			p, err = getProcess(tx, id)
			return err
		})
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("signing: export customer: %w", err)
		}
		if p.TenantID != tenantID || !s.visible(ctx, p, now) {
			continue
		}
		s.decorate(p, now)
		for i := range p.Signers {
			if p.Signers[i].CustomerID != customerID {
				p.Signers[i].CustomerID = ""
			}
		}
		e := Export{Process: *p}
		if p.Status == StatusCompleted {
			doc, err := s.latest(ctx, p)
			if err != nil {
				return nil, fmt.Errorf("signing: export customer: %w", err)
			}
			e.Final = doc.Data
		}
		out = append(out, e)
	}
	return out, nil
}

// Message is what a mail or SMS job of the process needs when it runs.
type Message struct {
	// Process is the process.
	Process Process
	// Contact is the customer's contact (customer jobs).
	Contact customer.Contact
	// LinkToken is the customer's link token (customer mails).
	LinkToken string
	// Code is the one-time code (code SMS).
	Code string
}

// Message reads what the job of n needs. ok is false when the job no
// longer applies (the process is gone, cancelled or expired, the signer
// signed meanwhile, the customer was erased): it is then done without a
// message.
func (s *Service) Message(ctx context.Context, n Notice) (Message, bool, error) {
	var m Message
	ok := false
	err := s.kv.View(ctx, func(tx store.Txn) error {
		p, err := getProcess(tx, n.ProcessID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		now := s.clock.Now()
		switch n.Event {
		case EventInvite, EventCode:
			if s.checkTurn(p, n.Role, now) != nil {
				return nil
			}
		case EventAdvisorTurn:
			if s.checkTurn(p, RoleAdvisor, now) != nil {
				return nil
			}
		case EventCompleted:
			if p.Status != StatusCompleted {
				return nil
			}
		default:
			return nil
		}
		m.Process = *p
		if n.Role != "" {
			sg := p.signer(n.Role)
			if sg == nil || sg.CustomerID == "" {
				return nil
			}
			var ac access
			if err := getJSON(tx, accessKey(p.ID, n.Role), &ac); errors.Is(err, store.ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
			c, err := s.profiles.ContactTx(tx, sg.CustomerID)
			if err != nil {
				return nil // erased or expired profile: nobody to tell
			}
			m.Contact = c
			tok, err := s.profiles.OpenTx(tx, sg.CustomerID, ac.SealedLink)
			if err != nil {
				return nil
			}
			m.LinkToken = string(tok)
			if n.Event == EventCode {
				code, err := s.profiles.OpenTx(tx, sg.CustomerID, n.SealedCode)
				if err != nil {
					return nil
				}
				m.Code = string(code)
			}
		}
		ok = true
		return nil
	})
	if err != nil {
		return Message{}, false, fmt.Errorf("signing: message for %s: %w", n.ProcessID, err)
	}
	if ok {
		s.decorate(&m.Process, s.clock.Now())
		if !s.visible(ctx, &m.Process, s.clock.Now()) {
			return Message{}, false, nil
		}
	}
	return m, ok, nil
}
