// SPDX-License-Identifier: GPL-2.0
/*
 * The C twin of samples/rust_binder_pages.rs, for `make bench` only: what C
 * costs for the same pages and the same insertions. /dev/rust_binder_pages_c
 * has exactly the ABI of samples/uapi/rust_binder_pages.h.
 *
 * Each open file is a receiver context. The receiver maps it once, read-only,
 * at most 4 MiB; `mapped` registers the VMA (its mm, start, page slots and a
 * bitmap of inserted pages) as the context's current registration, which the
 * VMA's vm_private_data points at. A SEND pins the message first (a bad
 * pointer then changes nothing, and the copies cannot fault); if every page it
 * touches exists it copies in place under the context's lock only; otherwise
 * it finds the receiver's VMA through the registration's mm, proves it is this
 * registration's own mixed-map VMA, allocates and inserts the missing pages,
 * then copies. A fault maps a page again that the receiver dropped.
 *
 * Lock order: the receiver's VMA lock (or mmap lock), then ctx->lock. The core
 * calls mapped, open, close and mremap with the mmap write lock held.
 */

#include <linux/bitmap.h>
#include <linux/highmem.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/refcount.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "rust_binder_pages.h"

#define RBPC_MAX_SIZE	(4UL << 20)

/* One mapping of a context, from `mapped` until its last reference goes. */
struct rbpc_reg {
	refcount_t ref;
	struct mm_struct *mm;		/* mmgrab()bed: does not keep the mm's pages alive */
	unsigned long start;		/* the VMA's start; moved by mremap */
	unsigned long size;
	unsigned long nr_allocated;	/* filled slots */
	unsigned long nr_mapped;	/* set bits of inserted */
	struct page **pages;		/* one slot per page of the mapping */
	unsigned long *inserted;	/* pages inserted into the VMA, as far as we know */
};

struct rbpc_ctx {
	struct mutex lock;		/* current_reg, bytes_sent, and the registrations' slots */
	struct rbpc_reg *current_reg;	/* holds a reference */
	unsigned long size;		/* current_reg's size or 0; read without the lock */
	u64 bytes_sent;
};

static const struct vm_operations_struct rbpc_vm_ops;

static void rbpc_reg_put(struct rbpc_reg *reg)
{
	unsigned long i, npages;

	if (!refcount_dec_and_test(&reg->ref))
		return;
	npages = reg->size >> PAGE_SHIFT;
	for (i = 0; i < npages; i++)
		if (reg->pages[i])
			put_page(reg->pages[i]);
	bitmap_free(reg->inserted);
	kvfree(reg->pages);
	mmdrop(reg->mm);
	kfree(reg);
}

static int rbpc_open(struct inode *inode, struct file *file)
{
	struct rbpc_ctx *ctx = kzalloc_obj(*ctx);

	if (!ctx)
		return -ENOMEM;
	mutex_init(&ctx->lock);
	file->private_data = ctx;
	return 0;
}

static int rbpc_release(struct inode *inode, struct file *file)
{
	struct rbpc_ctx *ctx = file->private_data;

	/* Every VMA holds the file: none is left, so none is registered. */
	if (ctx->current_reg)
		rbpc_reg_put(ctx->current_reg);
	mutex_destroy(&ctx->lock);
	kfree(ctx);
	return 0;
}

static int rbpc_mmap_prepare(struct vm_area_desc *desc)
{
	struct rbpc_ctx *ctx = desc->file->private_data;
	bool busy;

	if (vma_desc_test(desc, VMA_WRITE_BIT))
		return -EPERM;
	if (vma_desc_size(desc) > RBPC_MAX_SIZE)
		return -EINVAL;
	/* Checked again in mapped, which two racing mmap() calls may both reach. */
	mutex_lock(&ctx->lock);
	busy = ctx->current_reg;
	mutex_unlock(&ctx->lock);
	if (busy)
		return -EBUSY;
	vma_desc_clear_flags(desc, VMA_MAYWRITE_BIT);
	vma_desc_set_flags(desc, VMA_DONTCOPY_BIT, VMA_MIXEDMAP_BIT, VMA_DONTEXPAND_BIT);
	desc->vm_ops = &rbpc_vm_ops;
	return 0;
}

static int rbpc_mapped(unsigned long start, unsigned long end, pgoff_t pgoff,
		       const struct file *file, void **vm_private_data)
{
	struct rbpc_ctx *ctx = file->private_data;
	unsigned long npages = (end - start) >> PAGE_SHIFT;
	struct rbpc_reg *reg;

	reg = kzalloc_obj(*reg);
	if (!reg)
		return -ENOMEM;
	reg->pages = kvzalloc_objs(*reg->pages, npages);
	reg->inserted = bitmap_zalloc(npages, GFP_KERNEL);
	if (!reg->pages || !reg->inserted) {
		bitmap_free(reg->inserted);
		kvfree(reg->pages);
		kfree(reg);
		return -ENOMEM;
	}
	reg->start = start;
	reg->size = end - start;
	reg->mm = current->mm;
	mmgrab(reg->mm);
	/* One reference for the context, one for the VMA. */
	refcount_set(&reg->ref, 2);

	mutex_lock(&ctx->lock);
	if (ctx->current_reg) {
		mutex_unlock(&ctx->lock);
		refcount_set(&reg->ref, 1);
		rbpc_reg_put(reg);
		return -EBUSY;
	}
	ctx->current_reg = reg;
	WRITE_ONCE(ctx->size, reg->size);
	mutex_unlock(&ctx->lock);
	*vm_private_data = reg;
	return 0;
}

/* A copy of the VMA (mremap; fork does not copy it): it holds the registration too. */
static void rbpc_vma_open(struct vm_area_struct *vma)
{
	struct rbpc_reg *reg = vma->vm_private_data;

	refcount_inc(&reg->ref);
}

/* Unregisters unless this is the old copy of a moved VMA. */
static void rbpc_vma_close(struct vm_area_struct *vma)
{
	struct rbpc_ctx *ctx = vma->vm_file->private_data;
	struct rbpc_reg *reg = vma->vm_private_data;
	bool unregister;

	mutex_lock(&ctx->lock);
	unregister = ctx->current_reg == reg && reg->start == vma->vm_start;
	if (unregister) {
		ctx->current_reg = NULL;
		WRITE_ONCE(ctx->size, 0);
	}
	mutex_unlock(&ctx->lock);
	if (unregister)
		rbpc_reg_put(reg);
	rbpc_reg_put(reg);
}

/* Maps a buffer page again after the receiver dropped it (MADV_DONTNEED). */
static vm_fault_t rbpc_fault(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct rbpc_ctx *ctx = vma->vm_file->private_data;
	struct rbpc_reg *reg = vma->vm_private_data;
	unsigned long idx = (vmf->address - vma->vm_start) >> PAGE_SHIFT;
	vm_fault_t ret = VM_FAULT_SIGBUS;

	mutex_lock(&ctx->lock);
	if (ctx->current_reg == reg && reg->start == vma->vm_start && reg->pages[idx]) {
		get_page(reg->pages[idx]);
		vmf->page = reg->pages[idx];
		if (!test_and_set_bit(idx, reg->inserted))
			reg->nr_mapped++;
		ret = 0;
	}
	mutex_unlock(&ctx->lock);
	return ret;
}

/* One VMA per context: a partial munmap or mprotect is refused. */
static int rbpc_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

/* A move is committed: the registration follows the VMA. */
static int rbpc_mremap(struct vm_area_struct *new_vma)
{
	struct rbpc_ctx *ctx = new_vma->vm_file->private_data;
	struct rbpc_reg *reg = new_vma->vm_private_data;

	mutex_lock(&ctx->lock);
	reg->start = new_vma->vm_start;
	mutex_unlock(&ctx->lock);
	return 0;
}

static const struct vm_operations_struct rbpc_vm_ops = {
	.open = rbpc_vma_open,
	.close = rbpc_vma_close,
	.mapped = rbpc_mapped,
	.may_split = rbpc_may_split,
	.mremap = rbpc_mremap,
	.fault = rbpc_fault,
};

/*
 * Takes a reference to the current registration if [offset, offset + len)
 * lies inside it: -ESRCH without one, -EINVAL outside it.
 */
static int rbpc_target(struct rbpc_ctx *ctx, u64 offset, u64 len, struct rbpc_reg **regp,
		       unsigned long *startp)
{
	struct rbpc_reg *reg;
	int err = 0;

	mutex_lock(&ctx->lock);
	reg = ctx->current_reg;
	if (!reg) {
		err = -ESRCH;
	} else if (offset > reg->size || len > reg->size - offset) {
		err = -EINVAL;
	} else {
		refcount_inc(&reg->ref);
		*regp = reg;
		*startp = reg->start;
	}
	mutex_unlock(&ctx->lock);
	return err;
}

/*
 * Finds the receiver's VMA at start and proves it is reg's own mixed-map VMA;
 * returns it locked (per-VMA lock, or the mmap read lock if *mmap_locked), or
 * NULL. The caller holds an mm_users reference.
 */
static struct vm_area_struct *rbpc_own_vma(struct rbpc_reg *reg, unsigned long start,
					   bool *mmap_locked)
{
	struct vm_area_struct *vma;

	*mmap_locked = false;
	vma = lock_vma_under_rcu(reg->mm, start);
	if (!vma) {
		mmap_read_lock(reg->mm);
		*mmap_locked = true;
		vma = vma_lookup(reg->mm, start);
	}
	if (vma && vma->vm_ops == &rbpc_vm_ops && vma->vm_private_data == reg &&
	    vma->vm_start == start && (vma->vm_flags & VM_MIXEDMAP))
		return vma;
	if (*mmap_locked)
		mmap_read_unlock(reg->mm);
	else if (vma)
		vma_end_read(vma);
	return NULL;
}

static void rbpc_unlock_vma(struct vm_area_struct *vma, bool mmap_locked)
{
	if (mmap_locked)
		mmap_read_unlock(vma->vm_mm);
	else
		vma_end_read(vma);
}

static bool rbpc_still_current(struct rbpc_ctx *ctx, struct rbpc_reg *reg, unsigned long start)
{
	return ctx->current_reg == reg && reg->start == start;
}

/* Copies the pinned message (from byte pin_off of its first page) into reg at offset. */
static void rbpc_write(struct rbpc_reg *reg, u64 offset, u64 len, struct page **src,
		       unsigned long pin_off)
{
	unsigned long done = 0, at, chunk, from, piece;
	char *dst, *s;

	while (done < len) {
		at = offset_in_page(offset + done);
		chunk = min_t(unsigned long, PAGE_SIZE - at, len - done);
		dst = kmap_local_page(reg->pages[(offset + done) >> PAGE_SHIFT]);
		while (chunk) {
			from = pin_off + done;
			piece = min_t(unsigned long, chunk, PAGE_SIZE - offset_in_page(from));
			s = kmap_local_page(src[from >> PAGE_SHIFT]);
			memmove(dst + at, s + offset_in_page(from), piece);
			kunmap_local(s);
			at += piece;
			done += piece;
			chunk -= piece;
		}
		kunmap_local(dst);
	}
}

static bool rbpc_all_present(struct rbpc_reg *reg, unsigned long first, unsigned long n)
{
	unsigned long i;

	for (i = 0; i < n; i++)
		if (!reg->pages[first + i])
			return false;
	return true;
}

static long rbpc_send(struct rbpc_ctx *ctx, struct rbp_send __user *argp)
{
	unsigned long start, first, n, i, idx, nr_pin, pin_off, size;
	struct vm_area_struct *vma;
	struct page **pinned;
	struct rbpc_reg *reg;
	struct rbp_send arg;
	bool mmap_locked;
	long err, got;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	if (!arg.len) {
		mutex_lock(&ctx->lock);
		reg = ctx->current_reg;
		err = !reg ? -ESRCH : arg.offset > reg->size ? -EINVAL : 0;
		mutex_unlock(&ctx->lock);
		return err;
	}
	/* EINVAL outside the buffer whatever the pointer: checked before pinning. */
	size = READ_ONCE(ctx->size);
	if (!size)
		return -ESRCH;
	if (arg.offset > size || arg.len > size - arg.offset)
		return -EINVAL;

	/* Pin the message: a bad pointer fails before anything changes; copies cannot fault. */
	pin_off = offset_in_page(arg.data);
	nr_pin = DIV_ROUND_UP(pin_off + arg.len, PAGE_SIZE);
	pinned = kvmalloc_array(nr_pin, sizeof(*pinned), GFP_KERNEL);
	if (!pinned)
		return -ENOMEM;
	got = pin_user_pages_fast(arg.data - pin_off, nr_pin, 0, pinned);
	if (got != nr_pin) {
		err = got < 0 ? got : -EFAULT;
		if (got > 0)
			unpin_user_pages(pinned, got);
		kvfree(pinned);
		return err;
	}
	first = arg.offset >> PAGE_SHIFT;
	n = ((arg.offset + arg.len - 1) >> PAGE_SHIFT) - first + 1;

	/* Every touched page exists: write in place under the context lock only. */
	mutex_lock(&ctx->lock);
	reg = ctx->current_reg;
	err = !reg ? -ESRCH : arg.offset > reg->size || arg.len > reg->size - arg.offset ?
	      -EINVAL : 0;
	if (!err && rbpc_all_present(reg, first, n)) {
		rbpc_write(reg, arg.offset, arg.len, pinned, pin_off);
		ctx->bytes_sent += arg.len;
		mutex_unlock(&ctx->lock);
		goto unpin;
	}
	if (!err) {
		refcount_inc(&reg->ref);
		start = reg->start;
	}
	mutex_unlock(&ctx->lock);
	if (err)
		goto unpin;

	/* Some pages are new: allocate them, insert them, then write. */
	err = -ESRCH;
	if (!mmget_not_zero(reg->mm))
		goto put_reg;
	vma = rbpc_own_vma(reg, start, &mmap_locked);
	if (!vma)
		goto put_mm;
	mutex_lock(&ctx->lock);
	if (!rbpc_still_current(ctx, reg, start))
		goto unlock;
	err = 0;
	for (i = 0; i < n && !err; i++) {
		idx = first + i;
		if (reg->pages[idx])
			continue;
		reg->pages[idx] = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!reg->pages[idx])
			err = -ENOMEM;
		else
			err = vm_insert_page(vma, start + (idx << PAGE_SHIFT), reg->pages[idx]);
	}
	if (err) {
		/* Take the new pages out again: the failed SEND changes nothing. */
		for (i = 0; i < n; i++) {
			idx = first + i;
			if (test_bit(idx, reg->inserted) || !reg->pages[idx])
				continue;
			zap_vma_range(vma, start + (idx << PAGE_SHIFT), PAGE_SIZE);
			put_page(reg->pages[idx]);
			reg->pages[idx] = NULL;
		}
		goto unlock;
	}
	for (i = 0; i < n; i++) {
		idx = first + i;
		if (!test_and_set_bit(idx, reg->inserted)) {
			reg->nr_allocated++;
			reg->nr_mapped++;
		}
	}
	rbpc_write(reg, arg.offset, arg.len, pinned, pin_off);
	ctx->bytes_sent += arg.len;
unlock:
	mutex_unlock(&ctx->lock);
	rbpc_unlock_vma(vma, mmap_locked);
put_mm:
	mmput(reg->mm);
put_reg:
	rbpc_reg_put(reg);
unpin:
	unpin_user_pages(pinned, nr_pin);
	kvfree(pinned);
	return err;
}

static long rbpc_free(struct rbpc_ctx *ctx, struct rbp_free __user *argp)
{
	unsigned long start, first, end, idx, was_mapped = 0;
	struct vm_area_struct *vma;
	struct page *page, *next;
	struct rbpc_reg *reg;
	struct rbp_free arg;
	LIST_HEAD(freed);
	bool mmap_locked;
	long err;

	if (copy_from_user(&arg, argp, sizeof(arg)))
		return -EFAULT;
	err = rbpc_target(ctx, arg.offset, arg.len, &reg, &start);
	if (err)
		return err;
	/* The pages wholly inside the range. */
	first = DIV_ROUND_UP(arg.offset, PAGE_SIZE);
	end = (arg.offset + arg.len) >> PAGE_SHIFT;
	if (first >= end)
		goto put_reg;

	err = -ESRCH;
	if (!mmget_not_zero(reg->mm))
		goto put_reg;
	vma = rbpc_own_vma(reg, start, &mmap_locked);
	if (!vma)
		goto put_mm;
	mutex_lock(&ctx->lock);
	if (!rbpc_still_current(ctx, reg, start))
		goto unlock;
	for (idx = first; idx < end; idx++)
		if (test_bit(idx, reg->inserted))
			was_mapped++;
	if (was_mapped) {
		zap_vma_range(vma, start + (first << PAGE_SHIFT), (end - first) << PAGE_SHIFT);
		bitmap_clear(reg->inserted, first, end - first);
		reg->nr_mapped -= was_mapped;
	}
	/* Our own pages, never on an LRU list: lru chains them until they are put. */
	for (idx = first; idx < end; idx++) {
		if (!reg->pages[idx])
			continue;
		list_add(&reg->pages[idx]->lru, &freed);
		reg->pages[idx] = NULL;
		reg->nr_allocated--;
	}
	err = 0;
unlock:
	mutex_unlock(&ctx->lock);
	rbpc_unlock_vma(vma, mmap_locked);
put_mm:
	mmput(reg->mm);
	list_for_each_entry_safe(page, next, &freed, lru) {
		list_del(&page->lru);
		put_page(page);
	}
put_reg:
	rbpc_reg_put(reg);
	return err;
}

static long rbpc_stats(struct rbpc_ctx *ctx, struct rbp_stats __user *argp)
{
	struct rbp_stats st = { 0 };

	mutex_lock(&ctx->lock);
	if (ctx->current_reg) {
		st.pages_allocated = ctx->current_reg->nr_allocated;
		st.pages_mapped = ctx->current_reg->nr_mapped;
	}
	st.bytes_sent = ctx->bytes_sent;
	mutex_unlock(&ctx->lock);
	return copy_to_user(argp, &st, sizeof(st)) ? -EFAULT : 0;
}

static long rbpc_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct rbpc_ctx *ctx = file->private_data;
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case RBP_IOC_SEND:
		return rbpc_send(ctx, argp);
	case RBP_IOC_FREE:
		return rbpc_free(ctx, argp);
	case RBP_IOC_STATS:
		return rbpc_stats(ctx, argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations rbpc_fops = {
	.owner = THIS_MODULE,
	.open = rbpc_open,
	.release = rbpc_release,
	.mmap_prepare = rbpc_mmap_prepare,
	.unlocked_ioctl = rbpc_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice rbpc_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "rust_binder_pages_c",
	.fops = &rbpc_fops,
};

module_misc_device(rbpc_dev);

MODULE_DESCRIPTION("C twin of rust_binder_pages, for make bench");
MODULE_LICENSE("GPL");
