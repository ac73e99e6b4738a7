// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for the KUnit module, around static inline helpers and macros.
 *
 * KUnit cases run in kthreads, whose root is an empty nullfs since 7.0, so a
 * path like /dev/rmp_kunit must be resolved in userspace's initial fs.
 */

#include <linux/anon_inodes.h>
#include <linux/completion.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/kthread.h>
#include <linux/lockdep.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/pagemap.h>
#include <linux/pci.h>
#include <linux/rbtree.h>
#include <linux/sched/mm.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include <kunit/test.h>
#include <kunit/test-bug.h>

#include "kunit_helpers.h"

/*
 * Marks the running KUnit case skipped, with @reason (KTAP "# SKIP reason"):
 * for a case about one architecture's rules on another, e.g. x86's page
 * attribute table on arm64. kunit_mark_skipped() is a macro.
 */
void rmp_kunit_skip(const char *reason)
{
	struct kunit *test = kunit_get_current_test();

	if (test)
		kunit_mark_skipped(test, "%s", reason);
}

struct file *rmp_kunit_filp_open(const char *path, int flags)
{
	scoped_with_init_fs()
		return filp_open(path, flags, 0);
}

/* current_user() is a macro and locked_vm an atomic_long_t. */
long rmp_kunit_locked_vm(void)
{
	return atomic_long_read(&current_user()->locked_vm);
}

/* page_count() is a static inline. */
int rmp_kunit_page_count(struct page *page)
{
	return page_count(page);
}

/* page_to_phys() is a macro. */
u64 rmp_kunit_page_phys(struct page *page)
{
	return page_to_phys(page);
}

/*
 * The memory type that a PTE's attribute bits select: on x86 the enum
 * page_cache_mode of its PAT bits (PWT, PCD, PAT); on arm64 its AttrIndx, the
 * MAIR_EL1 slot (MT_NORMAL, MT_NORMAL_NC, MT_DEVICE_nGnRnE, MT_DEVICE_nGnRE,
 * arch/arm64/include/asm/memory.h).
 */
int rmp_kunit_cachemode(pgprot_t prot)
{
#if defined(CONFIG_X86)
	unsigned long bits = pgprot_val(prot) & _PAGE_CACHE_MASK;
	int pcm;

	/* The first mode whose bits these are: the PAT slots of WB/UC- appear twice. */
	for (pcm = 0; pcm < _PAGE_CACHE_MODE_NUM; pcm++)
		if (cachemode2protval(pcm) == bits)
			return pcm;
	return -EINVAL;
#elif defined(CONFIG_ARM64)
	return (pgprot_val(prot) & PTE_ATTRINDX_MASK) >> 2;
#else
	return -EOPNOTSUPP;
#endif
}

/*
 * Whether a PTE's protection makes it never executable: on arm64 by userspace
 * and by the kernel (UXN and PXN, which pgprot_noncached(), pgprot_device()
 * and pgprot_writecombine() set); on x86 NX. 1, 0, or -EOPNOTSUPP.
 */
int rmp_kunit_prot_exec_never(pgprot_t prot)
{
#if defined(CONFIG_X86)
	return !!(pgprot_val(prot) & _PAGE_NX);
#elif defined(CONFIG_ARM64)
	return (pgprot_val(prot) & (PTE_UXN | PTE_PXN)) == (PTE_UXN | PTE_PXN);
#else
	return -EOPNOTSUPP;
#endif
}

/*
 * Writes the sysfs path of resource @bar of the first PCI device
 * @vendor:@device ("/sys/bus/pci/devices/<name>/resource<bar>") into @buf, and
 * the resource's start into @start; 0, -ENODEV or -ENAMETOOLONG.
 */
int rmp_kunit_pci_resource_file(unsigned int vendor, unsigned int device, int bar, char *buf,
				size_t len, u64 *start)
{
	struct pci_dev *pdev = pci_get_device(vendor, device, NULL);
	int n;

	if (!pdev)
		return -ENODEV;
	n = snprintf(buf, len, "/sys/bus/pci/devices/%s/resource%d", pci_name(pdev), bar);
	*start = pci_resource_start(pdev, bar);
	pci_dev_put(pdev);
	return n < len ? 0 : -ENAMETOOLONG;
}

/*
 * The PFN and the memory type of the PTE that maps @addr in a VM_PFNMAP or
 * VM_IO mapping of current->mm, as follow_pfnmap_start() finds it; 0 or
 * -errno (-EFAULT: no VMA there; -EINVAL: no PFN mapping or no entry).
 */
int rmp_kunit_pfnmap_entry(unsigned long addr, unsigned long *pfn, int *cachemode)
{
	struct follow_pfnmap_args args = { .address = addr };
	struct mm_struct *mm = current->mm;
	int ret = -EFAULT;

	mmap_read_lock(mm);
	args.vma = vma_lookup(mm, addr);
	if (args.vma)
		ret = follow_pfnmap_start(&args);
	if (!ret) {
		*pfn = args.pfn;
		*cachemode = rmp_kunit_cachemode(args.pgprot);
		follow_pfnmap_end(&args);
	}
	mmap_read_unlock(mm);
	return ret;
}

/*
 * What rmap can see of the VMA of current->mm that starts at @start and maps
 * @file at page @pgoff. Bit 0: the VMA is in the file's i_mmap interval tree,
 * which rmap walks (unmap_mapping_range(), rmap_walk_file()). Bit 1: a walker
 * could take the tree's lock now (i_mmap_trylock_read() succeeded), so it
 * could reach the VMA. With hide_from_rmap_until_complete, vma_link_file()
 * inserts the VMA but keeps i_mmap_rwsem for writing until mapped() returned:
 * the trylock then fails, and the tree is walked under the caller's own hold
 * (checked with lockdep, hence -EOPNOTSUPP without it). -EBUSY if someone else
 * holds the lock.
 */
int rmp_kunit_rmap_probe(struct file *file, unsigned long start, unsigned long pgoff)
{
	struct address_space *mapping = file->f_mapping;
	int walkable = i_mmap_trylock_read(mapping);
	struct vm_area_struct *vma;
	struct rb_node *node;
	int found = 0;

	if (!walkable) {
#ifdef CONFIG_LOCKDEP
		if (!lockdep_is_held_type(&mapping->i_mmap_rwsem, 0))
			return -EBUSY;
#else
		return -EOPNOTSUPP;
#endif
	}
	/* The tree's iterators (mapping_rmap_tree_foreach()) are not exported: visit every node. */
	for (node = rb_first_cached(&mapping->i_mmap); node; node = rb_next(node)) {
		vma = rb_entry(node, struct vm_area_struct, shared.rb);
		if (vma->vm_mm == current->mm && vma->vm_start == start &&
		    vma->vm_pgoff == pgoff)
			found = 1;
	}
	if (walkable)
		i_mmap_unlock_read(mapping);
	return found | (walkable ? 2 : 0);
}

/* mmap_write_lock() is a static inline; the test thread's own mm (kunit_attach_mm()). */
void rmp_kunit_mmap_write_lock(void)
{
	mmap_write_lock(current->mm);
}

void rmp_kunit_mmap_write_unlock(void)
{
	mmap_write_unlock(current->mm);
}

/*
 * Write-locks the VMA at @addr of the test thread's mm under its mmap write
 * lock, as a VMA being changed is: lock_vma_under_rcu() then fails on it, and
 * mmap_read_trylock() on the mm. Released by rmp_kunit_mmap_write_unlock().
 */
int rmp_kunit_mmap_write_lock_vma(unsigned long addr)
{
	struct vm_area_struct *vma;

	mmap_write_lock(current->mm);
	vma = vma_lookup(current->mm, addr);
	if (!vma) {
		mmap_write_unlock(current->mm);
		return -ENOENT;
	}
	vma_start_write(vma);
	return 0;
}

/*
 * An address space of its own, not the test thread's (mm_users 1), for a
 * comparison that must tell them apart; rmp_kunit_mmput() releases it.
 * mm_alloc() is exported to KUnit modules only.
 */
MODULE_IMPORT_NS("EXPORTED_FOR_KUNIT_TESTING");

struct mm_struct *rmp_kunit_mm_alloc(void)
{
	return mm_alloc();
}

void rmp_kunit_mmput(struct mm_struct *mm)
{
	mmput(mm);
}

/*
 * A new file of @fops with @priv as private data: a file of a kind other than
 * a misc device, whose file_operations a driver builds itself.
 */
struct file *rmp_kunit_anon_file(const struct file_operations *fops, void *priv)
{
	return anon_inode_getfile("[rmp_kunit_hand]", fops, priv, O_RDWR);
}

/* lock_page() and unlock_page() are static inlines. */
void rmp_kunit_lock_page(struct page *page)
{
	lock_page(page);
}

void rmp_kunit_unlock_page(struct page *page)
{
	unlock_page(page);
}

/* A kernel thread that reads one byte of the test thread's address space. */
struct rmp_kunit_reader {
	struct mm_struct *mm;
	unsigned long addr;
	unsigned char byte;
	int ret;
	struct completion done;
};

static int rmp_kunit_reader_fn(void *arg)
{
	struct rmp_kunit_reader *r = arg;

	kthread_use_mm(r->mm);
	r->ret = copy_from_user(&r->byte, (const void __user *)r->addr, 1) ? -EFAULT : 0;
	kthread_unuse_mm(r->mm);
	complete(&r->done);
	return 0;
}

/*
 * Starts a thread that reads the byte at @addr of current->mm, as another
 * thread of the same process would; NULL on failure. rmp_kunit_reader_wait()
 * collects it, and must be called before the test thread's mm goes.
 */
struct rmp_kunit_reader *rmp_kunit_reader_start(unsigned long addr)
{
	struct rmp_kunit_reader *r = kzalloc(sizeof(*r), GFP_KERNEL);
	struct task_struct *t;

	if (!r)
		return NULL;
	r->mm = current->mm;
	r->addr = addr;
	init_completion(&r->done);
	mmgrab(r->mm);
	t = kthread_run(rmp_kunit_reader_fn, r, "rmp_kunit_reader");
	if (IS_ERR(t)) {
		mmdrop(r->mm);
		kfree(r);
		return NULL;
	}
	return r;
}

/* Waits for the reader; its result (0 or -EFAULT), and the byte it read in @byte. */
int rmp_kunit_reader_wait(struct rmp_kunit_reader *r, unsigned char *byte)
{
	int ret;

	wait_for_completion(&r->done);
	ret = r->ret;
	*byte = r->byte;
	mmdrop(r->mm);
	kfree(r);
	return ret;
}
