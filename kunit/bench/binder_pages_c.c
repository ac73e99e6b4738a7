// SPDX-License-Identifier: GPL-2.0
/*
 * The C twin of samples/rust_binder_pages.rs, for `make bench` only: what C
 * costs for the same pages and the same insertions. /dev/rust_binder_pages_c
 * has exactly the ABI of samples/uapi/rust_binder_pages.h.
 *
 * Each open file is a receiver context. The receiver maps it once, read-only,
 * at most 4 MiB; `mapped` registers the VMA (its mm, start, page slots and a
 * byte per page saying whether it was inserted) as the context's current
 * registration, which the VMA's vm_private_data points at. A SEND pins the
 * message first (a bad pointer then changes nothing, and the copies cannot
 * fault); if every page it touches exists it copies in place under the
 * context's lock only; otherwise it finds the receiver's VMA through the
 * registration's mm, proves it is this registration's own mixed-map VMA,
 * allocates the missing pages, then zaps and inserts each, then copies. A
 * fault maps a page again that the receiver dropped.
 *
 * It makes the allocations the sample makes, of the same sizes, so that the
 * comparison is of the code and not of what is allocated: three in `mapped`
 * (the registration, the 8-byte page slots, the byte-per-page `inserted`
 * array: the sample's KVec<bool>), none for the pins of a message of up to
 * RBPC_PIN_INLINE pages (PinnedUserBuffer::INLINE) and one array above, one
 * array of the new pages in a SEND that inserts, one array of the pages a FREE
 * takes out; and a page is freed as the sample's KernelPage is, after waiting
 * for its lock (a fault may hold it while it maps the page).
 *
 * Lock order: the receiver's VMA lock (or mmap lock), then ctx->lock. The core
 * calls mapped, open, close and mremap with the mmap write lock held.
 */

#include <linux/highmem.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/refcount.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "rust_binder_pages.h"

#define RBPC_MAX_SIZE	(4UL << 20)
/* Pins held without an allocation, as PinnedUserBuffer::INLINE in rust/pages.rs. */
#define RBPC_PIN_INLINE	4

/* One mapping of a context, from `mapped` until its last reference goes. */
struct rbpc_reg {
	refcount_t ref;
	struct mm_struct *mm;		/* mmgrab()bed: does not keep the mm's pages alive */
	unsigned long start;		/* the VMA's start; moved by mremap */
	unsigned long size;
	unsigned long nr_allocated;	/* filled slots */
	unsigned long nr_mapped;	/* nonzero bytes of inserted */
	struct page **pages;		/* one slot per page of the mapping */
	u8 *inserted;			/* per page: inserted into the VMA, as far as we know */
};

struct rbpc_ctx {
	struct mutex lock;		/* current_reg, bytes_sent, and the registrations' slots */
	struct rbpc_reg *current_reg;	/* holds a reference */
	unsigned long size;		/* current_reg's size or 0; read without the lock */
	u64 bytes_sent;
};

static const struct vm_operations_struct rbpc_vm_ops;

/* Frees a page of ours as the sample's KernelPage does: a fault may hold its lock. */
static void rbpc_free_page(struct page *page)
{
	lock_page(page);
	unlock_page(page);
	__free_page(page);
}

static void rbpc_reg_put(struct rbpc_reg *reg)
{
	unsigned long i, npages;

	if (!refcount_dec_and_test(&reg->ref))
		return;
	npages = reg->size >> PAGE_SHIFT;
	for (i = 0; i < npages; i++)
		if (reg->pages[i])
			rbpc_free_page(reg->pages[i]);
	kfree(reg->inserted);
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
	reg->inserted = kzalloc(npages, GFP_KERNEL);
	if (!reg->pages || !reg->inserted) {
		kfree(reg->inserted);
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
		if (!reg->inserted[idx]) {
			reg->inserted[idx] = 1;
			reg->nr_mapped++;
		}
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

/* Unpins the message and frees its array if it has one. */
static void rbpc_unpin(struct page **pinned, unsigned long nr_pin, struct page **inline_pins)
{
	unpin_user_pages(pinned, nr_pin);
	if (pinned != inline_pins)
		kfree(pinned);
}

/*
 * Allocates the pages missing among n from first, then puts each into its
 * slot, zaps its address (a fault that mapped the slot's old page before a
 * FREE took it may have left that entry) and inserts it, as the sample does.
 * On failure the new pages are taken out again: nothing changed. Called with
 * the VMA locked and ctx->lock held.
 */
static int rbpc_insert_new(struct rbpc_reg *reg, struct vm_area_struct *vma, unsigned long start,
			   unsigned long first, unsigned long n)
{
	unsigned long i, idx, nr_new = 0, num;
	struct rbpc_new {
		unsigned long idx;
		struct page *page;
	} *new;			/* the sample's KVec of (index, page) */
	int err = 0;

	new = kmalloc_array(n, sizeof(*new), GFP_KERNEL);
	if (!new)
		return -ENOMEM;
	/* All allocations first: if one fails, nothing was changed. */
	for (idx = first; idx < first + n; idx++) {
		if (reg->pages[idx])
			continue;
		new[nr_new].idx = idx;
		new[nr_new].page = alloc_page(GFP_KERNEL | __GFP_ZERO);
		if (!new[nr_new].page) {
			for (i = 0; i < nr_new; i++)
				rbpc_free_page(new[i].page);
			kfree(new);
			return -ENOMEM;
		}
		nr_new++;
	}
	for (i = 0; i < nr_new; i++) {
		idx = new[i].idx;
		reg->pages[idx] = new[i].page;
		if (err)
			continue;
		zap_vma_range(vma, start + (idx << PAGE_SHIFT), PAGE_SIZE);
		num = 1;
		err = vm_insert_pages(vma, start + (idx << PAGE_SHIFT), &reg->pages[idx], &num);
	}
	kfree(new);
	if (!err)
		return 0;
	/* Take the new pages out again: the failed SEND changes nothing. */
	for (idx = first; idx < first + n; idx++) {
		if (reg->inserted[idx] || !reg->pages[idx])
			continue;
		zap_vma_range(vma, start + (idx << PAGE_SHIFT), PAGE_SIZE);
		rbpc_free_page(reg->pages[idx]);
		reg->pages[idx] = NULL;
	}
	return err;
}

static long rbpc_send(struct rbpc_ctx *ctx, struct rbp_send __user *argp)
{
	unsigned long start, first, n, i, idx, nr_pin, pin_off, size;
	struct page *inline_pins[RBPC_PIN_INLINE], **pinned = inline_pins;
	struct vm_area_struct *vma;
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

	/*
	 * Pin the message: a bad pointer fails before anything changes; copies
	 * cannot fault. Up to RBPC_PIN_INLINE pages without an allocation.
	 */
	pin_off = offset_in_page(arg.data);
	nr_pin = DIV_ROUND_UP(pin_off + arg.len, PAGE_SIZE);
	if (nr_pin > INT_MAX)
		return -EFAULT;
	if (nr_pin > RBPC_PIN_INLINE) {
		pinned = kmalloc_array(nr_pin, sizeof(*pinned), GFP_KERNEL);
		if (!pinned)
			return -ENOMEM;
	}
	got = pin_user_pages_fast(arg.data - pin_off, nr_pin, 0, pinned);
	if (got != nr_pin) {
		rbpc_unpin(pinned, got > 0 ? got : 0, inline_pins);
		return -EFAULT;
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
	err = rbpc_insert_new(reg, vma, start, first, n);
	if (err)
		goto unlock;
	for (i = 0; i < n; i++) {
		idx = first + i;
		if (!reg->inserted[idx]) {
			reg->inserted[idx] = 1;
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
	rbpc_unpin(pinned, nr_pin, inline_pins);
	return err;
}

static long rbpc_free(struct rbpc_ctx *ctx, struct rbp_free __user *argp)
{
	unsigned long start, first, end, idx, nr_freed = 0;
	struct vm_area_struct *vma;
	struct page **freed = NULL;
	struct rbpc_reg *reg;
	struct rbp_free arg;
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
	/* The pages taken out, freed after the locks (the sample's KVec). */
	err = -ENOMEM;
	freed = kmalloc_array(end - first, sizeof(*freed), GFP_KERNEL);
	if (!freed)
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
	zap_vma_range(vma, start + (first << PAGE_SHIFT), (end - first) << PAGE_SHIFT);
	for (idx = first; idx < end; idx++) {
		if (reg->pages[idx]) {
			freed[nr_freed++] = reg->pages[idx];
			reg->pages[idx] = NULL;
			reg->nr_allocated--;
		}
		if (reg->inserted[idx]) {
			reg->inserted[idx] = 0;
			reg->nr_mapped--;
		}
	}
	err = 0;
unlock:
	mutex_unlock(&ctx->lock);
	rbpc_unlock_vma(vma, mmap_locked);
put_mm:
	mmput(reg->mm);
	for (idx = 0; idx < nr_freed; idx++)
		rbpc_free_page(freed[idx]);
put_reg:
	kfree(freed);
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
